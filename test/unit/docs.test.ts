/**
 * The documentation users get stays self-contained: the README links the repository's own
 * docs/ARCHITECTURE.md, and nothing shipped points at ../shared (the team's design notes, which
 * users do not have). Every relative link in the READMEs and docs/ resolves to a file.
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '../..');
const DOCS = ['README.md', 'bench/README.md', 'providers/fake/SPEC.md', ...fs.readdirSync(path.join(ROOT, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
  fs.existsSync(path.join(ROOT, f)),
);

it('the README links docs/ARCHITECTURE.md, which exists', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  expect(readme).toContain('](docs/ARCHITECTURE.md)');
  expect(fs.existsSync(path.join(ROOT, 'docs/ARCHITECTURE.md'))).toBe(true);
});

it.each(DOCS)('%s never refers to ../shared', (f) => {
  expect(fs.readFileSync(path.join(ROOT, f), 'utf8')).not.toMatch(/\.\.\/shared|\/work\/shared/);
});

it.each(DOCS)('every relative link in %s resolves', (f) => {
  const text = fs.readFileSync(path.join(ROOT, f), 'utf8');
  const broken: string[] = [];
  for (const m of text.matchAll(/\]\(([^)\s#]+)(#[^)]*)?\)/g)) {
    const target = m[1];
    if (/^[a-z]+:/i.test(target)) continue;
    if (!fs.existsSync(path.join(ROOT, path.dirname(f), target))) broken.push(target);
  }
  expect(broken).toEqual([]);
});
