/**
 * The connection string carries a password; it must never reach state, plan files, logs or
 * output. Everything the pg backend says about a connection goes through these helpers.
 */

/** maskConnStr shows a connection string with its password (URL or `password=` keyword form) as `***`. */
export function maskConnStr(connStr: string): string {
  let s = connStr.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)([^@]*)(@)/i, '$1***$3');
  s = s.replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1***');
  s = s.replace(/([?&]password=)[^&]*/gi, '$1***');
  return s;
}

/** passwordsIn lists the password spellings found in `connStr` (raw and URL-decoded). */
export function passwordsIn(connStr: string): string[] {
  const out = new Set<string>();
  const url = /^postgres(?:ql)?:\/\/[^:/@]*:([^@]*)@/i.exec(connStr);
  if (url?.[1]) {
    out.add(url[1]);
    try {
      out.add(decodeURIComponent(url[1]));
    } catch {
      /* not percent-encoded */
    }
  }
  for (const m of connStr.matchAll(/\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]+)/gi)) {
    const v = m[1].startsWith("'") ? m[1].slice(1, -1) : m[1];
    out.add(v);
    try {
      out.add(decodeURIComponent(v));
    } catch {
      /* not percent-encoded */
    }
  }
  if (process.env.PGPASSWORD) out.add(process.env.PGPASSWORD);
  return [...out].filter((p) => p.length > 0);
}

/** redact replaces every occurrence of the connection string and its passwords in `text`. */
export function redact(text: string, connStr: string | undefined): string {
  if (!connStr) return text;
  let out = text.split(connStr).join(maskConnStr(connStr));
  for (const p of passwordsIn(connStr).sort((a, b) => b.length - a.length)) out = out.split(p).join('***');
  return out;
}
