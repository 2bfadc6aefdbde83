/**
 * App is the root of a TypeScript configuration, like cdktf's App: resources are constructed
 * inside it (directly or inside the user's own constructs), and `synth()` turns the whole tree
 * into the RawConfig every front end produces.
 */
import { Construct } from 'constructs';
import type { Diagnostic, SourcePos } from '../../diagnostics';
import type { RawConfig, RawResource, Value } from '../types';
import { settingsFromRaw, tsSettingsBlock, type TsBackendProps } from '../settings';
import { captureUserPos } from './callsite';
import { APP_BRAND, isResource } from './resources';
import { toValue, synthResource } from './synth';

const OUTPUT_BRAND = Symbol.for('microseg.Output');

export interface AppProps {
  /**
   * Where diagnostics point when a resource's declaration could not be located (it was built by
   * library code with no user frame on the stack). Defaults to where `new App()` was called.
   */
  readonly fallbackPos?: SourcePos;
  /**
   * Where state, lock and journal live, like HCL's `microseg { backend "pg" { ... } }`:
   * `{ pg: { schemaName: 'microseg' } }` (connection string from PG_CONN_STR unless `connStr`),
   * or `{ local: { path: '.microseg' } }`, the default.
   */
  readonly backend?: TsBackendProps;
}

/** The root construct of a configuration. */
export class App extends Construct {
  /** Where `new App()` was called. */
  readonly declaredAt: SourcePos;
  private readonly claimed = new Map<string, Set<string>>();
  private readonly backend?: TsBackendProps;

  constructor(props: AppProps = {}) {
    super(undefined as unknown as Construct, '');
    this.declaredAt = props.fallbackPos ?? captureUserPos() ?? { file: '<typescript>', line: 1, column: 1 };
    this.backend = props.backend;
    // Resources find the App through their root to claim their names (see resources.ts).
    Object.defineProperty(this, APP_BRAND, {
      value: { claim: (type: string, name: string): void => this.claim(type, name) },
    });
  }

  /** isApp recognises an App, also one made by another copy of this module. */
  static isApp(x: unknown): x is App {
    return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[APP_BRAND] !== undefined;
  }

  /**
   * synth converts every resource and output in the tree, in construction order (pre-order
   * over the tree), to a RawConfig. `sources` is left empty: reading files is the loader's job.
   */
  synth(): RawConfig {
    const resources: RawResource[] = [];
    const outputs: { [name: string]: Value } = {};
    const diagnostics: Diagnostic[] = [];
    for (const c of this.node.findAll()) {
      if (isResource(c)) {
        const r = synthResource(c, this.declaredAt);
        resources.push(r.resource);
        diagnostics.push(...r.diagnostics);
      } else if (isOutput(c)) {
        const pos = c.declaredAt ?? this.declaredAt;
        const v = toValue(c.value, [], { address: `output.${c.outputName}` }, pos, diagnostics, new Set());
        if (v !== undefined) outputs[c.outputName] = v;
      }
    }
    const cfg: RawConfig = { resources, outputs, sources: new Map(), diagnostics };
    const settings = settingsFromRaw(this.backend === undefined ? [] : [tsSettingsBlock(this.backend, this.declaredAt)]);
    diagnostics.push(...settings.diagnostics);
    if (settings.settings) cfg.settings = settings.settings;
    return cfg;
  }

  private claim(type: string, name: string): void {
    let names = this.claimed.get(type);
    if (!names) this.claimed.set(type, (names = new Set()));
    if (names.has(name)) {
      throw new Error(`Duplicate ${type} "${name}": another ${type} already has this name`);
    }
    names.add(name);
  }
}

export interface OutputProps {
  /** Any configuration value; resources stand for their names. */
  readonly value: unknown;
}

/** An output value, like HCL's `output "name" { value = ... }`. */
export class Output extends Construct {
  readonly outputName: string;
  readonly value: unknown;
  readonly declaredAt: SourcePos | undefined;

  constructor(scope: Construct, name: string, props: OutputProps) {
    const root = scope.node.root as Construct & { [APP_BRAND]?: { claim(type: string, name: string): void } };
    root[APP_BRAND]?.claim('output', name);
    super(scope, `output.${name}`);
    this.outputName = name;
    this.value = props.value;
    this.declaredAt = captureUserPos();
    Object.defineProperty(this, OUTPUT_BRAND, { value: true });
  }
}

function isOutput(x: unknown): x is Output {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[OUTPUT_BRAND] === true;
}
