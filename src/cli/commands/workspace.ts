/**
 * workspace list | show | new NAME | select NAME | delete NAME: several states (prod, staging) in
 * one backend, as Terraform users know them. Each workspace has its own state, lock and journal.
 * The selection is MICROSEG_WORKSPACE when set (CI), else what `select` wrote to
 * DIR/.microseg/workspace, else `default`. The local backend has only `default`.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { DiagnosticsError, makeDiagnostic } from '../../diagnostics';
import { checkWorkspaceName, DEFAULT_WORKSPACE, selectedWorkspace, StateCodes, STATE_DIR, WORKSPACE_FILE, type OpenedStore } from '../../state';
import type { Io } from '../io';
import { viewFor, type View } from '../views/view';
import { withBackend } from './backend';

export interface WorkspaceFlags {
  dir?: string;
  force?: boolean;
}

function needPg(opened: OpenedStore, what: string): asserts opened is Extract<OpenedStore, { kind: 'pg' }> {
  if (opened.kind !== 'pg') {
    throw new DiagnosticsError(
      [makeDiagnostic('error', StateCodes.workspacesUnsupported, `Cannot ${what}: the local backend has only the "default" workspace`, 'Configure microseg { backend "pg" { ... } } for workspaces.')],
      'user',
    );
  }
}

async function writeSelection(dir: string, name: string): Promise<void> {
  const d = path.join(dir, STATE_DIR);
  await fsp.mkdir(d, { recursive: true, mode: 0o700 });
  await fsp.writeFile(path.join(d, WORKSPACE_FILE), name + '\n', { mode: 0o600 });
}

export async function workspaceListCommand(io: Io, flags: WorkspaceFlags): Promise<number> {
  const dir = flags.dir ?? '.';
  const view = viewFor(io, false);
  return withBackend(view, dir, { workspace: DEFAULT_WORKSPACE }, async (opened) => {
    const current = (await selectedWorkspace(dir)).name;
    const names = opened.kind === 'pg' ? await opened.store.listWorkspaces() : [DEFAULT_WORKSPACE];
    for (const n of names) view.say(`${n === current ? '*' : ' '} ${n}`);
    if (!names.includes(current)) {
      view.diagnostics([makeDiagnostic('warning', StateCodes.noWorkspace, `The selected workspace "${current}" does not exist`, `\`microseg workspace new ${current}\` creates it.`)]);
    }
    return 0;
  });
}

export async function workspaceShowCommand(io: Io, flags: WorkspaceFlags): Promise<number> {
  const sel = await selectedWorkspace(flags.dir ?? '.');
  io.out(`${sel.name}\n`);
  return 0;
}

/**
 * onWorkspaces runs `fn` on the backend's default workspace (the one that always exists), with
 * NAME checked first when `checkName` (a name to create or select; delete only ever matches names
 * that exist). Returns `fn`'s exit code, or 1 after the view said why.
 */
async function onWorkspaces(
  io: Io,
  name: string,
  flags: WorkspaceFlags,
  checkName: boolean,
  fn: (view: View, dir: string, opened: OpenedStore) => Promise<number>,
): Promise<number> {
  const dir = flags.dir ?? '.';
  const view = viewFor(io, false);
  if (checkName) {
    try {
      checkWorkspaceName(name);
    } catch (e) {
      return view.thrown(e);
    }
  }
  return withBackend(view, dir, { workspace: DEFAULT_WORKSPACE }, (opened) => fn(view, dir, opened));
}

export async function workspaceNewCommand(io: Io, name: string, flags: WorkspaceFlags): Promise<number> {
  return onWorkspaces(io, name, flags, true, async (view, dir, opened) => {
    needPg(opened, `create workspace "${name}"`);
    if (!(await opened.store.createWorkspace(name))) {
      return view.fail([makeDiagnostic('error', StateCodes.workspaceExists, `Workspace "${name}" already exists`, `Select it with \`microseg workspace select ${name}\`.`)]);
    }
    await writeSelection(dir, name);
    io.out(`Created and selected workspace "${name}". It has no state yet: the next plan lists everything as new.\n`);
    return 0;
  });
}

export async function workspaceSelectCommand(io: Io, name: string, flags: WorkspaceFlags): Promise<number> {
  return onWorkspaces(io, name, flags, true, async (view, dir, opened) => {
    if (opened.kind === 'pg' ? !(await opened.store.workspaceExists(name)) : name !== DEFAULT_WORKSPACE) {
      return view.fail([makeDiagnostic('error', StateCodes.noWorkspace, `Workspace "${name}" does not exist`, `\`microseg workspace list\` shows them; \`microseg workspace new ${name}\` creates it.`)]);
    }
    await writeSelection(dir, name);
    io.out(`Selected workspace "${name}".${process.env.MICROSEG_WORKSPACE ? ` (MICROSEG_WORKSPACE=${process.env.MICROSEG_WORKSPACE} overrides it in this environment.)` : ''}\n`);
    return 0;
  });
}

export async function workspaceDeleteCommand(io: Io, name: string, flags: WorkspaceFlags): Promise<number> {
  return onWorkspaces(io, name, flags, false, async (view, dir, opened) => {
    needPg(opened, `delete workspace "${name}"`);
    const refuse = (why: string) => view.fail([makeDiagnostic('error', StateCodes.workspaceDeleteRefused, `Refusing to delete workspace "${name}"`, why)]);
    if (name === DEFAULT_WORKSPACE) return refuse('The default workspace always exists.');
    if ((await selectedWorkspace(dir)).name === name) return refuse('It is the selected workspace: select another one first (`microseg workspace select default`).');
    if (!(await opened.store.workspaceExists(name))) {
      return view.fail([makeDiagnostic('error', StateCodes.noWorkspace, `Workspace "${name}" does not exist`, '`microseg workspace list` shows them.')]);
    }
    const hosts = await opened.store.hostCount(name);
    if (hosts > 0 && !flags.force) {
      return refuse(
        `Its state still records ${hosts} host(s) with microseg rules. Deleting it would forget them and leave their rules in place: ` +
          `run \`MICROSEG_WORKSPACE=${name} microseg destroy\` first, or delete with -force to forget them anyway.`,
      );
    }
    await opened.store.deleteWorkspace(name);
    io.out(`Deleted workspace "${name}" (its state, journal and lock record).\n`);
    return 0;
  });
}
