/**
 * evaluateHcl turns parsed HCL files into a RawConfig: input variables first (from defaults,
 * environment, var files and --var, in Terraform's precedence), then locals, resources and outputs
 * in dependency order (a reference graph sorted with Tarjan's algorithm, so cycles are found and
 * named instead of overflowing the stack). It is pure: files and inputs come in as data.
 */
import type { ProgressSink } from '../../progress';
import { type Diagnostic, DiagnosticSink, didYouMean, type SourcePos, sortDiagnostics } from '../../diagnostics';
import type { RawConfig, RawResource, Value } from '../types';
import { hclSettingsBlock, settingsFromRaw, type RawSettingsBlock } from '../settings';
import type { Block, Body, Expr } from './ast';
import { Codes } from './codes';
import { unknownBlock } from './blocks';
import { collectRefs, type EvalContext, Evaluator, isResourceType } from './eval';
import { readJsonValue } from './json';
import { parseExpression, parseNative } from './parser';
import { parseHcl } from './parse';
import { convert, parseType, type TypeC, typeString } from './typeexpr';
import { hasKey, isObj, nfc, type Obj, POISON, setKey, toBool, toStr, typeName, type Val } from './values';

/** HclInputs are the variable values given from outside the configuration. */
export interface HclInputs {
  /** `--var name=value` pairs; values of non-string variables are parsed as HCL expressions. */
  vars?: Record<string, string>;
  /** Contents of `--var-file` files in the order given (later files win); `.json` names are JSON. */
  varFiles?: { name: string; text: string }[];
  /** Environment; `MICROSEG_VAR_<name>` sets variable `<name>`. */
  env?: Record<string, string | undefined>;
  /**
   * Configuration files that could not be read (already reported): whatever they declared is
   * unknown, so references that may point into them are not reported as undeclared.
   */
  unreadable?: string[];
  /** Told as each file is parsed (a large directory shows progress on a terminal). */
  progress?: ProgressSink;
}

export const ENV_PREFIX = 'MICROSEG_VAR_';

interface VarDecl {
  name: string;
  block: Block;
}

interface NodeDecl {
  id: string;
  kind: 'local' | 'resource' | 'output';
  pos: SourcePos;
  exprs: Expr[];
  /** local: its expression; resource/output: the block. */
  expr?: Expr;
  block?: Block;
  order: number;
}

/**
 * EVAL_DIAGNOSTICS_PER_FILE bounds the diagnostics evaluation keeps per file: evaluation does not
 * run in file order, so it keeps many more than the 50 shown (limitPerFile picks the first by
 * position), but not millions (16 MiB of `a = var.x` lines would be 1.6 million).
 */
const EVAL_DIAGNOSTICS_PER_FILE = 1000;

const VARIABLE_ATTRS = ['type', 'default', 'description', 'sensitive', 'nullable'];
const OUTPUT_ATTRS = ['value', 'description', 'sensitive'];

class Builder {
  /** At most EVAL_DIAGNOSTICS_PER_FILE kept per file (memory); the view shows the first 50 of them. */
  readonly diags = new DiagnosticSink(EVAL_DIAGNOSTICS_PER_FILE);
  readonly vars = new Map<string, Val>();
  /** Resource types whose names are not all known ("*": all); see RawConfig.incomplete. */
  readonly incompleteTypes = new Set<string>();
  /** Locals whose declaration was lost to a syntax error, and whether some unnamed one was. */
  readonly lostLocals = new Set<string>();
  localsIncomplete = false;
  varsIncomplete = false;
  /** Resources that evaluated in part (see EvalContext.partial). */
  readonly partial = new Map<string, { known: Obj; unknown: Set<string> }>();
  readonly locals = new Map<string, Val>();
  readonly resources = new Map<string, Val>();
  readonly resourceLabels = new Map<string, string[]>();
  readonly instances = new Map<string, RawResource[]>();
  readonly outputs: { [name: string]: Value } = {};

  err(code: string, summary: string, detail: string, pos?: SourcePos): void {
    this.diags.push(pos ? { severity: 'error', code, summary, detail, file: pos.file, line: pos.line, column: pos.column } : { severity: 'error', code, summary, detail });
  }

  warn(code: string, summary: string, detail: string, pos?: SourcePos): void {
    this.diags.push(pos ? { severity: 'warning', code, summary, detail, file: pos.file, line: pos.line, column: pos.column } : { severity: 'warning', code, summary, detail });
  }

  constCtx(where: string): EvalContext {
    return { diags: this.diags, where };
  }

  fullCtx(each?: EvalContext['each']): EvalContext {
    return {
      diags: this.diags,
      vars: this.vars,
      locals: this.locals,
      resources: this.resources,
      resourceLabels: this.resourceLabels,
      each,
      where: 'this expression',
      mayBeUndeclared: (kind, name) => this.mayBeUndeclared(kind, name),
      partial: this.partial,
    };
  }

  /** mayBeUndeclared: see EvalContext.mayBeUndeclared. */
  mayBeUndeclared(kind: string, name: string): boolean {
    if (kind === 'var') return this.varsIncomplete;
    if (kind === 'local') return this.localsIncomplete || this.lostLocals.has(name);
    return this.incompleteTypes.has('*') || this.incompleteTypes.has(kind);
  }

  /** lostTopLevel records what a top-level item lost to a syntax error may have declared. */
  lostTopLevel(name: string): void {
    if (name === 'locals') this.localsIncomplete = true;
    else if (name === 'variable') this.varsIncomplete = true;
    else if (isResourceType(name)) this.incompleteTypes.add(name);
    else if (name === '') {
      this.localsIncomplete = true;
      this.varsIncomplete = true;
      this.incompleteTypes.add('*');
    }
  }
}

/** evaluateHcl evaluates a configuration given as file contents; see the module comment. */
export function evaluateHcl(files: { name: string; text: string }[], inputs: HclInputs): RawConfig {
  const b = new Builder();
  const sources = new Map<string, string>();
  const sorted = [...files].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const varDecls: VarDecl[] = [];
  const nodes: NodeDecl[] = [];
  const nodeIds = new Map<string, NodeDecl>();
  const resourceOrder: string[] = [];
  const settingsBlocks: RawSettingsBlock[] = [];

  const addNode = (n: NodeDecl, what: string): void => {
    const prev = nodeIds.get(n.id);
    if (prev) {
      b.err(Codes.duplicate, `Duplicate ${what} ${n.id}`, `${n.id} is already declared at ${prev.pos.file}:${prev.pos.line}:${prev.pos.column}; names must be unique. Rename or remove one.`, n.pos);
      return;
    }
    nodeIds.set(n.id, n);
    nodes.push(n);
  };

  if (inputs.unreadable?.length) b.lostTopLevel('');
  for (const [i, f] of sorted.entries()) {
    inputs.progress?.({ phase: 'parse', done: i, total: sorted.length, item: f.name });
    sources.set(f.name, f.text);
    const parsed = parseHcl(f.name, f.text);
    b.diags.push(...parsed.diagnostics);
    const body = parsed.file.body;
    for (const name of body.lost ?? []) b.lostTopLevel(name);
    for (const a of body.attributes) {
      b.err(
        Codes.invalidBlock,
        `Unexpected top-level attribute "${a.name}"`,
        `Top-level attributes are not allowed; declare values in a block, e.g. locals { ${a.name} = ... }.`,
        a.namePos,
      );
    }
    for (const blk of body.blocks) {
      if (blk.type === 'variable') {
        if (blk.labels.length !== 1) {
          b.err(Codes.invalidBlock, 'A variable block needs exactly one label', 'Write: variable "name" { type = string }', blk.pos);
          continue;
        }
        const name = blk.labels[0].value;
        const prev = varDecls.find((v) => v.name === name);
        if (prev) {
          b.err(Codes.duplicate, `Duplicate variable "${name}"`, `It is already declared at ${prev.block.pos.file}:${prev.block.pos.line}.`, blk.pos);
          continue;
        }
        varDecls.push({ name, block: blk });
      } else if (blk.type === 'locals') {
        if (blk.labels.length) b.err(Codes.invalidBlock, 'A locals block takes no labels', 'Write: locals { name = value }', blk.labels[0].pos);
        for (const nb of blk.body.blocks) b.err(Codes.invalidBlock, `Unexpected block "${nb.type}" in locals`, 'A locals block holds only name = value attributes.', nb.pos);
        for (const name of blk.body.lost ?? []) {
          if (name === '') b.localsIncomplete = true;
          else b.lostLocals.add(name);
        }
        for (const a of blk.body.attributes) {
          addNode({ id: `local.${a.name}`, kind: 'local', pos: a.namePos, exprs: [a.expr], expr: a.expr, order: nodes.length }, 'local value');
        }
      } else if (blk.type === 'microseg') {
        const shape: Diagnostic[] = [];
        settingsBlocks.push(hclSettingsBlock(blk, shape));
        for (const d of shape) b.diags.push(d);
      } else if (blk.type === 'output') {
        if (blk.labels.length !== 1) {
          b.err(Codes.invalidBlock, 'An output block needs exactly one label', 'Write: output "name" { value = ... }', blk.pos);
          continue;
        }
        checkAttrs(b, blk.body, OUTPUT_ATTRS, 'output', true);
        addNode({ id: `output.${blk.labels[0].value}`, kind: 'output', pos: blk.pos, exprs: blk.body.attributes.map((a) => a.expr), block: blk, order: nodes.length }, 'output');
      } else if (!isResourceType(blk.type)) {
        b.diags.push(unknownBlock(blk));
      } else {
        if (blk.labels.length !== 1) {
          b.err(
            Codes.resourceLabels,
            `A ${blk.type} block needs exactly one label, got ${blk.labels.length}`,
            `A resource is declared with one quoted name, e.g.:\n  ${blk.type} "example" {\n    ...\n  }`,
            blk.labels.length > 1 ? blk.labels[1].pos : blk.pos,
          );
          // Which name it meant is unknown, so references to its type cannot be judged.
          b.incompleteTypes.add(blk.type);
          continue;
        }
        const id = `${blk.type}.${blk.labels[0].value}`;
        const exprs: Expr[] = [];
        collectBodyExprs(blk.body, exprs);
        const before = nodes.length;
        addNode({ id, kind: 'resource', pos: blk.pos, exprs, block: blk, order: nodes.length }, 'resource');
        if (nodes.length > before) {
          resourceOrder.push(id);
          const labels = b.resourceLabels.get(blk.type) ?? [];
          labels.push(blk.labels[0].value);
          b.resourceLabels.set(blk.type, labels);
        }
      }
    }
  }

  evaluateVariables(b, varDecls, inputs);

  // Reference graph and evaluation order.
  const order = orderNodes(b, nodes, nodeIds);
  for (const n of order) {
    if (n.kind === 'local') b.locals.set(n.id.slice(6), new Evaluator(b.fullCtx()).evaluate(n.expr!));
    else if (n.kind === 'resource') evaluateResource(b, n.block!);
    else evaluateOutput(b, n.block!);
  }

  const resources: RawResource[] = [];
  for (const id of resourceOrder) resources.push(...(b.instances.get(id) ?? []));
  const settings = settingsFromRaw(settingsBlocks);
  for (const d of settings.diagnostics) b.diags.push(d);
  const cfg: RawConfig = { resources, outputs: b.outputs, sources, diagnostics: sortDiagnostics(b.diags.result()) };
  if (settings.settings) cfg.settings = settings.settings;
  if (b.incompleteTypes.size) cfg.incomplete = [...b.incompleteTypes].sort();
  return cfg;
}

function collectBodyExprs(body: Body, out: Expr[]): void {
  for (const a of body.attributes) out.push(a.expr);
  for (const nb of body.blocks) collectBodyExprs(nb.body, out);
}

function checkAttrs(b: Builder, body: Body, allowed: string[], what: string, noBlocks: boolean): void {
  for (const a of body.attributes) {
    if (allowed.includes(a.name)) continue;
    const hint = didYouMean(a.name, allowed);
    b.err(Codes.invalidBlock, `Unsupported attribute "${a.name}" in ${what} block`, hint ? `Did you mean "${hint}"?` : `Allowed: ${allowed.join(', ')}.`, a.namePos);
  }
  if (noBlocks) for (const nb of body.blocks) b.err(Codes.invalidBlock, `Unexpected block "${nb.type}" in ${what} block`, `Allowed attributes: ${allowed.join(', ')}.`, nb.pos);
}

/**
 * orderNodes sorts locals, resources and outputs so each comes after what it references
 * (iterative Tarjan SCC; SCCs come out dependencies-first). Members of a cycle are reported once
 * and marked failed.
 */
function orderNodes(b: Builder, nodes: NodeDecl[], ids: Map<string, NodeDecl>): NodeDecl[] {
  const edges = new Map<string, string[]>();
  for (const n of nodes) {
    const refs = new Set<string>();
    for (const e of n.exprs) collectRefs(e, refs);
    edges.set(
      n.id,
      [...refs].filter((r) => ids.has(r)),
    );
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: NodeDecl[] = [];
  let counter = 0;
  for (const start of nodes) {
    if (index.has(start.id)) continue;
    const frames: { id: string; i: number }[] = [{ id: start.id, i: 0 }];
    index.set(start.id, counter);
    low.set(start.id, counter++);
    stack.push(start.id);
    onStack.add(start.id);
    while (frames.length) {
      const f = frames[frames.length - 1];
      const es = edges.get(f.id)!;
      if (f.i < es.length) {
        const w = es[f.i++];
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          frames.push({ id: w, i: 0 });
        } else if (onStack.has(w)) low.set(f.id, Math.min(low.get(f.id)!, index.get(w)!));
        continue;
      }
      frames.pop();
      if (frames.length) {
        const p = frames[frames.length - 1];
        low.set(p.id, Math.min(low.get(p.id)!, low.get(f.id)!));
      }
      if (low.get(f.id) === index.get(f.id)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== f.id);
        const selfLoop = scc.length === 1 && edges.get(scc[0])!.includes(scc[0]);
        if (scc.length > 1 || selfLoop) reportCycle(b, scc, edges, ids);
        else out.push(ids.get(scc[0])!);
      }
    }
  }
  return out;
}

function reportCycle(b: Builder, scc: string[], edges: Map<string, string[]>, ids: Map<string, NodeDecl>): void {
  const members = new Set(scc);
  const first = scc.map((id) => ids.get(id)!).sort((x, y) => x.order - y.order)[0];
  // Breadth-first search for the shortest path from `first` back to itself inside the SCC.
  const prev = new Map<string, string>();
  const queue = [first.id];
  let found = false;
  for (let qi = 0; qi < queue.length && !found; qi++) {
    const cur = queue[qi];
    for (const w of edges.get(cur)!) {
      if (!members.has(w)) continue;
      if (w === first.id) {
        prev.set('$end', cur);
        found = true;
        break;
      }
      if (!prev.has(w)) {
        prev.set(w, cur);
        queue.push(w);
      }
    }
  }
  const path: string[] = [first.id];
  for (let c = prev.get('$end'); c !== undefined && c !== first.id; c = prev.get(c)) path.push(c);
  const cycle = [first.id, ...path.slice(1).reverse(), first.id];
  b.err(
    Codes.cycle,
    `Reference cycle: ${cycle.join(' → ')}`,
    'These values refer to each other, so none of them can be computed. Break the cycle, e.g. by moving a shared value into a local that does not refer back.',
    first.pos,
  );
  for (const id of scc) {
    const n = ids.get(id)!;
    if (n.kind === 'local') b.locals.set(id.slice(6), POISON);
    else if (n.kind === 'resource') b.resources.set(id, POISON);
  }
}

// ------------------------------------------------------------------ variables

interface InputValue {
  value: Value;
  from: string;
  pos?: SourcePos;
}

function evaluateVariables(b: Builder, decls: VarDecl[], inputs: HclInputs): void {
  const declared = new Set(decls.map((d) => d.name));
  const names = [...declared];
  // Var files, in order; later files win.
  const fileValues = new Map<string, { expr?: Expr; value?: Value; file: string; pos?: SourcePos }>();
  for (const vf of inputs.varFiles ?? []) {
    if (vf.name.endsWith('.json')) {
      const r = readJsonValue(vf.name, vf.text);
      b.diags.push(...r.diagnostics);
      if (r.value === undefined) continue;
      if (!isObj(r.value)) {
        b.err(Codes.invalidBlock, 'A JSON var file must hold one object', 'Write {"name": value, ...}.', { file: vf.name, line: 1, column: 1 });
        continue;
      }
      for (const k of Object.keys(r.value)) fileValues.set(k, { value: r.value[k], file: vf.name });
      continue;
    }
    const parsed = parseNative(vf.name, vf.text);
    b.diags.push(...parsed.diagnostics);
    for (const nb of parsed.file.body.blocks) b.err(Codes.invalidBlock, `Unexpected block "${nb.type}" in var file`, 'A var file holds only name = value lines.', nb.pos);
    for (const a of parsed.file.body.attributes) fileValues.set(a.name, { expr: a.expr, file: vf.name, pos: a.expr.pos });
  }
  for (const [k, v] of fileValues) {
    if (!declared.has(k)) {
      const hint = didYouMean(k, names);
      b.warn(Codes.undeclaredVariableValue, `Value for undeclared variable "${k}"`, `${v.file} sets "${k}", which no variable block declares.${hint ? ` Did you mean "${hint}"?` : ''}`, v.pos);
    }
  }
  for (const k of Object.keys(inputs.vars ?? {})) {
    if (!declared.has(k)) {
      const hint = didYouMean(k, names);
      b.err(
        Codes.undeclaredVariableValue,
        `Value for undeclared variable "${k}"`,
        `--var ${k}=... was given, but no variable "${k}" is declared.${hint ? ` Did you mean "${hint}"?` : ` Declare it with variable "${k}" { ... }.`}`,
      );
    }
  }

  for (const d of decls) b.vars.set(d.name, POISON);
  for (const d of decls) {
    const body = d.block.body;
    checkAttrs(b, body, VARIABLE_ATTRS, 'variable', false);
    for (const nb of body.blocks) {
      if (nb.type !== 'validation') b.err(Codes.invalidBlock, `Unexpected block "${nb.type}" in variable block`, 'A variable block may contain validation { condition, error_message } blocks.', nb.pos);
    }
    const attr = (n: string): Expr | undefined => body.attributes.find((a) => a.name === n)?.expr;
    const cev = new Evaluator(b.constCtx('a variable declaration'));
    let type: TypeC = { kind: 'any' };
    const te = attr('type');
    if (te) {
      const t = parseType(te, (e) => {
        const v = cev.evaluate(e);
        return v === POISON ? undefined : v;
      });
      if ('error' in t) b.err(Codes.invalidType, `Invalid type for variable "${d.name}"`, t.error, t.at.pos);
      else type = t;
    }
    const candidates: InputValue[] = [];
    const de = attr('default');
    if (de) {
      const v = cev.evaluate(de);
      if (v !== POISON) candidates.push({ value: v, from: 'its default', pos: de.pos });
    }
    const fromString = (text: string, origin: string): Value | undefined => {
      // Primitives convert from the string itself ("80" → 80); collections are HCL expressions.
      if (type.kind === 'string' || type.kind === 'any' || type.kind === 'number' || type.kind === 'bool') return nfc(text);
      const r = parseExpression(origin, text);
      const scratch: Diagnostic[] = [...r.diagnostics];
      const v = scratch.length ? POISON : new Evaluator({ diags: scratch, where: origin }).evaluate(r.expr);
      if (v === POISON) {
        b.err(
          Codes.variableType,
          `Invalid value for variable "${d.name}" from ${origin}`,
          `The value of a ${typeString(type)} variable is read as an HCL expression, e.g. ${exampleFor(type)}; here: ${scratch[0]?.summary ?? 'it could not be evaluated'}.`,
          d.block.pos,
        );
        return undefined;
      }
      return v;
    };
    const envVal = inputs.env?.[`${ENV_PREFIX}${d.name}`];
    if (envVal !== undefined) {
      const v = fromString(envVal, `environment variable ${ENV_PREFIX}${d.name}`);
      if (v !== undefined) candidates.push({ value: v, from: `environment variable ${ENV_PREFIX}${d.name}` });
    }
    const fv = fileValues.get(d.name);
    if (fv) {
      const v = fv.expr ? new Evaluator(b.constCtx('a var file')).evaluate(fv.expr) : fv.value!;
      if (v !== POISON) candidates.push({ value: v, from: fv.file, pos: fv.pos });
    }
    const cli = inputs.vars?.[d.name];
    if (cli !== undefined) {
      const v = fromString(cli, `--var ${d.name}`);
      if (v !== undefined) candidates.push({ value: v, from: `--var ${d.name}` });
    }
    const chosen = candidates[candidates.length - 1];
    if (!chosen) {
      if (de) continue; // default failed to evaluate; already reported
      if (body.lost?.some((n) => n === 'default' || n === '')) continue; // lost to a syntax error, reported
      b.err(
        Codes.requiredVariable,
        `No value for required variable "${d.name}"`,
        `Set it with --var ${d.name}=VALUE, in a --var-file (${d.name} = ...), with the environment variable ${ENV_PREFIX}${d.name}, or give the variable a default.`,
        d.block.pos,
      );
      continue;
    }
    const c = convert(chosen.value, type);
    if ('error' in c) {
      b.err(
        Codes.variableType,
        `Invalid value for variable "${d.name}"`,
        `The value from ${chosen.from} does not match type ${typeString(type)}: ${c.error}. Example of a valid value: ${exampleFor(type)}.`,
        chosen.pos ?? d.block.pos,
      );
      continue;
    }
    b.vars.set(d.name, c.value);
    for (const vb of body.blocks.filter((x) => x.type === 'validation')) {
      checkAttrs(b, vb.body, ['condition', 'error_message'], 'validation', true);
      const cond = vb.body.attributes.find((a) => a.name === 'condition');
      if (!cond) {
        b.err(Codes.invalidBlock, 'A validation block needs a condition', 'Write: validation { condition = length(var.x) > 0, error_message = "..." }', vb.pos);
        continue;
      }
      const vctx: EvalContext = { diags: b.diags, vars: new Map([[d.name, c.value]]), where: 'a validation condition' };
      const ok = new Evaluator(vctx).evaluate(cond.expr);
      if (ok === POISON) continue;
      const okb = toBool(ok);
      if (okb === undefined) {
        b.err(Codes.typeMismatch, 'Validation condition is not a bool', `The condition must be true or false, got ${typeName(ok)}.`, cond.expr.pos);
        continue;
      }
      if (!okb) {
        const me = vb.body.attributes.find((a) => a.name === 'error_message');
        const msg = me ? toStr(new Evaluator(vctx).evaluate(me.expr) as Value) : undefined;
        b.err(
          Codes.variableValidation,
          `Invalid value for variable "${d.name}"`,
          `${msg ?? 'The validation condition is false.'}\nThe value came from ${chosen.from}; this rule is at ${cond.expr.pos.file}:${cond.expr.pos.line}.`,
          chosen.pos ?? cond.expr.pos,
        );
      }
    }
  }
}

function exampleFor(t: TypeC): string {
  switch (t.kind) {
    case 'string':
      return '"text"';
    case 'number':
      return '42';
    case 'bool':
      return 'true';
    case 'list':
    case 'set':
    case 'tuple':
      return '["a", "b"]';
    case 'map':
      return '{ key = "value" }';
    case 'object':
      return `{ ${Object.keys(t.attrs)
        .map((k) => `${k} = ...`)
        .join(', ')} }`;
    default:
      return '"value"';
  }
}

// ------------------------------------------------------------------ resources

function evaluateResource(b: Builder, blk: Block): void {
  const type = blk.type;
  const label = blk.labels[0].value;
  const id = `${type}.${label}`;
  const fe = blk.body.attributes.find((a) => a.name === 'for_each');
  const out: RawResource[] = [];
  if (!fe && blk.body.lost?.includes('for_each')) {
    // Its for_each was lost to a syntax error: how many instances, and their names, are unknown.
    b.incompleteTypes.add(type);
    b.resources.set(id, POISON);
    return;
  }
  if (!fe) {
    const inst = evaluateInstance(b, blk, 'none', label, id);
    out.push(inst.res);
    b.resources.set(id, inst.ref);
    b.instances.set(id, out);
    return;
  }
  const v = new Evaluator(b.fullCtx()).evaluate(fe.expr);
  if (v === POISON) {
    b.incompleteTypes.add(type);
    b.resources.set(id, POISON);
    return;
  }
  let pairs: [string, Value][] | undefined;
  if (isObj(v)) pairs = Object.keys(v).sort().map((k) => [k, v[k]]);
  else if (Array.isArray(v)) {
    pairs = [];
    const seen = new Set<string>();
    for (const x of v) {
      const s = typeof x === 'string' ? x : undefined;
      if (s === undefined) {
        b.err(
          Codes.invalidForEach,
          'Invalid for_each element',
          `A for_each list or set must contain only strings, found ${typeName(x)} ${JSON.stringify(x)}. Convert it, e.g. for_each = toset([for x in list : tostring(x)]).`,
          fe.expr.pos,
        );
        pairs = undefined;
        break;
      }
      if (seen.has(s)) {
        b.err(Codes.invalidForEach, `Duplicate for_each key "${s}"`, 'Each instance needs a unique key; wrap the list in toset() to drop duplicates.', fe.expr.pos);
        pairs = undefined;
        break;
      }
      seen.add(s);
      pairs.push([s, s]);
    }
    pairs?.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  } else {
    b.err(
      Codes.invalidForEach,
      'Invalid for_each value',
      `for_each must be a map, or a set or list of strings; got ${typeName(v)}. Example: for_each = { a = "10.0.0.1", b = "10.0.0.2" } or for_each = toset(["a", "b"]).`,
      fe.expr.pos,
    );
  }
  if (!pairs) {
    b.incompleteTypes.add(type);
    b.resources.set(id, POISON);
    return;
  }
  const refMap: Obj = {};
  let bad = false;
  for (const [key, value] of pairs) {
    const inst = evaluateInstance(b, blk, { key, value }, `${label}[${key}]`, `${id}[${JSON.stringify(key)}]`);
    out.push(inst.res);
    if (inst.ref === POISON) bad = true;
    else setKey(refMap, key, inst.ref);
  }
  b.instances.set(id, out);
  b.resources.set(id, bad ? POISON : refMap);
}

function evaluateInstance(b: Builder, blk: Block, each: EvalContext['each'], defaultName: string, address: string): { res: RawResource; ref: Val } {
  const ev = new Evaluator(b.fullCtx(each));
  const body: Obj = {};
  const positions: { [path: string]: SourcePos } = { '': blk.pos };
  const blockKeys: string[] = [];
  const unknown: string[] = [];
  let bad = evalBody(b, ev, blk.body, body, positions, '', blockKeys, true, unknown);
  let name = defaultName;
  const nameAttr = blk.body.attributes.find((a) => a.name === 'name');
  if (nameAttr) {
    const nv = hasKey(body, 'name') ? body.name : POISON;
    delete body.name;
    if (nv !== POISON) {
      if (typeof nv === 'string') name = nv;
      else {
        b.err(Codes.invalidName, 'Invalid name', `name must be a string, got ${typeName(nv)}.`, nameAttr.expr.pos);
        bad = true;
        unknown.push('name');
      }
    } else bad = true;
  }
  if (unknown.includes('name') || (!nameAttr && blk.body.lost?.some((n) => n === 'name' || n === ''))) {
    // The resource's real name is unknown: other names of its type may be declared by it.
    b.incompleteTypes.add(blk.type);
    if (!unknown.includes('name')) unknown.push('name');
  }
  const res: RawResource = { type: blk.type, name, address, pos: blk.pos, body, positions };
  if (blockKeys.length) res.blockKeys = blockKeys;
  if (unknown.length) res.unknown = unknown;
  const ref: Obj = { ...body };
  setKey(ref, 'name', name);
  setKey(ref, 'address', address);
  if (bad && each === 'none' && !unknown.includes('name')) {
    // Other resources may still use the attributes that did evaluate (enforcer.web-1.name).
    b.partial.set(address, { known: ref, unknown: new Set(unknown.filter((u) => !u.includes('.'))) });
  }
  return { res, ref: bad ? POISON : ref };
}

/** evalBody evaluates attributes and nested blocks into `out`; returns true if anything failed. */
function evalBody(
  b: Builder,
  ev: Evaluator,
  body: Body,
  out: Obj,
  positions: { [path: string]: SourcePos },
  prefix: string,
  blockKeys: string[] | undefined,
  top: boolean,
  unknown: string[],
): boolean {
  let bad = false;
  for (const name of body.lost ?? []) {
    unknown.push(name === '' ? `${prefix}*` : prefix + name);
    bad = true;
  }
  for (const a of body.attributes) {
    if (top && a.name === 'for_each') continue;
    const path = prefix + a.name;
    const v = ev.evaluate(a.expr);
    positions[path] = a.expr.pos;
    if (v === POISON) {
      bad = true;
      unknown.push(path);
      continue;
    }
    setKey(out, a.name, v);
    recordPositions(a.expr, v, path, positions);
  }
  const groups = new Map<string, Block[]>();
  for (const nb of body.blocks) {
    const g = groups.get(nb.type);
    if (g) g.push(nb);
    else groups.set(nb.type, [nb]);
  }
  for (const [type, blocks] of groups) {
    const attr = body.attributes.find((a) => a.name === type);
    if (attr) {
      b.err(Codes.duplicate, `"${type}" is both an attribute and a block`, `Write ${type} either as an attribute or as a block, not both.`, blocks[0].pos);
      bad = true;
      continue;
    }
    for (const nb of blocks) {
      if (nb.labels.length) {
        b.err(Codes.invalidBlock, `Unexpected label on block "${type}"`, `Nested blocks take no labels: write ${type} { ... }.`, nb.labels[0].pos);
      }
    }
    blockKeys?.push(type);
    const path = prefix + type;
    if (blocks.length === 1) {
      const o: Obj = {};
      positions[path] = blocks[0].pos;
      if (evalBody(b, ev, blocks[0].body, o, positions, `${path}.`, undefined, false, unknown)) bad = true;
      setKey(out, type, o);
    } else {
      positions[path] = blocks[0].pos;
      const arr: Value[] = blocks.map((nb, i) => {
        const o: Obj = {};
        positions[`${path}.${i}`] = nb.pos;
        if (evalBody(b, ev, nb.body, o, positions, `${path}.${i}.`, undefined, false, unknown)) bad = true;
        return o;
      });
      setKey(out, type, arr);
    }
  }
  return bad;
}

const POSITION_BUDGET = 256;

/**
 * recordPositions records where each element of a value was written. Literal lists and objects
 * give each element its own position; values from elsewhere (variables, locals, functions) point
 * at their use site.
 */
function recordPositions(e: Expr, v: Value, path: string, positions: { [path: string]: SourcePos }): void {
  while (e.kind === 'paren') e = e.expr;
  positions[path] = e.pos;
  if (e.kind === 'tuple' && Array.isArray(v) && v.length === e.items.length) {
    e.items.forEach((it, i) => recordPositions(it, v[i], `${path}.${i}`, positions));
    return;
  }
  if (e.kind === 'object' && isObj(v)) {
    for (const item of e.items) {
      const k = item.keyName ?? (item.key.kind === 'template' && item.key.parts.length === 1 && item.key.parts[0].kind === 'lit' ? item.key.parts[0].value : undefined);
      if (k !== undefined && hasKey(v, k)) recordPositions(item.value, v[k], `${path}.${k}`, positions);
    }
    return;
  }
  if (typeof v === 'object' && v !== null) {
    const budget = { n: POSITION_BUDGET };
    recordUseSite(v, path, e.pos, positions, budget);
  }
}

function recordUseSite(v: Value, path: string, pos: SourcePos, positions: { [path: string]: SourcePos }, budget: { n: number }): void {
  if (typeof v !== 'object' || v === null) return;
  const keys = Array.isArray(v) ? v.map((_, i) => String(i)) : Object.keys(v);
  for (const k of keys) {
    if (budget.n-- <= 0) return;
    const p = `${path}.${k}`;
    positions[p] = pos;
    recordUseSite(Array.isArray(v) ? v[Number(k)] : (v as Obj)[k], p, pos, positions, budget);
  }
}

// ------------------------------------------------------------------ outputs

function evaluateOutput(b: Builder, blk: Block): void {
  const name = blk.labels[0].value;
  const va = blk.body.attributes.find((a) => a.name === 'value');
  if (!va) {
    if (blk.body.lost?.some((n) => n === 'value' || n === '')) return; // lost to a syntax error, reported
    b.err(Codes.invalidBlock, `Output "${name}" has no value`, 'Write: output "name" { value = ... }', blk.pos);
    return;
  }
  const v = new Evaluator(b.fullCtx()).evaluate(va.expr);
  if (v !== POISON) setKey(b.outputs, name, v);
}
