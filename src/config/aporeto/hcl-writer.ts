/**
 * A small HCL writer for generated configuration: quoted strings, lists, tag expressions and
 * blocks laid out the way `terraform fmt` would (two-space indent, `=` aligned within a run of
 * single-line attributes). Generated files are reviewed in pull requests like hand-written ones,
 * so they must read like them; and output is a pure function of the input, so re-running
 * migrate gives a byte-identical file.
 */

/** hclString quotes a string for HCL, escaping what would otherwise be template syntax. */
export function hclString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    const next = s[i + 1];
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    // `${` and `%{` start interpolations/directives in HCL strings; doubling the sigil escapes them.
    else if ((c === '$' || c === '%') && next === '{') out += c + c;
    else if (c < ' ') out += `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return `${out}"`;
}

/** HclValue is what the writer can render: scalars, lists of them, and nested lists. */
export type HclValue = string | number | boolean | HclValue[];

/** Lists longer than this on one line are written one element per line. */
const MAX_INLINE = 100;

/** hclValue renders a value; `indent` is the indentation of the line the value starts on. */
export function hclValue(v: HclValue, indent: string): string {
  if (typeof v === 'string') return hclString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const inline = `[${v.map((x) => hclValue(x, indent)).join(', ')}]`;
  if (inline.length + indent.length <= MAX_INLINE || v.length <= 1) return inline;
  const inner = `${indent}  `;
  return `[\n${v.map((x) => `${inner}${hclValue(x, inner)},\n`).join('')}${indent}]`;
}

/** An item of a block body: an attribute, a nested block, a comment line, or a blank line. */
export type BodyItem =
  | { kind: 'attr'; name: string; value: HclValue }
  | { kind: 'block'; type: string; labels: string[]; body: BodyItem[] }
  | { kind: 'comment'; text: string }
  | { kind: 'blank' };

/**
 * renderBlock writes `type "label" { ... }`. Attributes are aligned on `=` within each run of
 * consecutive single-line attributes, as terraform fmt does; a comment, blank line, nested block
 * or multi-line value ends the run.
 */
export function renderBlock(type: string, labels: string[], body: BodyItem[], indent = ''): string {
  const head = [type, ...labels.map(hclString)].join(' ');
  return `${indent}${head} {\n${renderBody(body, `${indent}  `)}${indent}}\n`;
}

function renderBody(items: BodyItem[], indent: string): string {
  let out = '';
  let i = 0;
  while (i < items.length) {
    const item = items[i];
    if (item.kind === 'attr') {
      // Collect the run of attributes that align together.
      const run: Array<{ name: string; text: string }> = [];
      while (i < items.length) {
        const a = items[i];
        if (a.kind !== 'attr') break;
        const text = hclValue(a.value, indent);
        run.push({ name: a.name, text });
        i++;
        if (text.includes('\n')) break;
      }
      const width = Math.max(...run.map((r) => r.name.length));
      for (const r of run) out += `${indent}${r.name.padEnd(width)} = ${r.text}\n`;
      continue;
    }
    if (item.kind === 'comment') {
      for (const line of item.text.split('\n')) out += line.trim() === '' ? `${indent}#\n` : `${indent}# ${line.trimEnd()}\n`;
    } else if (item.kind === 'blank') {
      out += '\n';
    } else {
      out += renderBlock(item.type, item.labels, item.body, indent);
    }
    i++;
  }
  return out;
}
