// Laravel `.env` parsing, as vlucas/phpdotenv v5 does it.

export interface DotenvResult {
  values: Record<string, string>;
  errors: string[];
}

function countUnescapedQuotes(line: string): number {
  const s = line.replaceAll('\\\\', '');
  let n = 0;
  for (let i = 0; i + 1 < s.length; i++) if (s[i] !== '\\' && s[i + 1] === '"') n++;
  return n;
}
const looksLikeMultilineStop = (line: string, started: boolean): boolean =>
  line === '"' || (started ? countUnescapedQuotes(line) > 1 : countUnescapedQuotes(line) >= 1);
const looksLikeMultilineStart = (line: string): boolean => line.includes('="') && !looksLikeMultilineStop(line, true);

const NAME_RE = /^[a-zA-Z0-9_.]+$/;
const isSpace = (c: string): boolean => /\s/.test(c);

type ParsedValue = { chars: string; vars: number[] } | { error: string };

function parseDotenvValue(raw: string): ParsedValue {
  if (raw.trim() === '') return { chars: '', vars: [] };
  type State = 'initial' | 'unquoted' | 'single' | 'double' | 'escape' | 'whitespace' | 'comment';
  let state: State = 'initial';
  let chars = '';
  const vars: number[] = [];
  const append = (c: string, isVar = false): void => {
    if (isVar) vars.push(chars.length);
    chars += c;
  };
  for (const c of raw) {
    switch (state) {
      case 'initial':
      case 'unquoted':
        if (state === 'initial' && c === "'") state = 'single';
        else if (state === 'initial' && c === '"') state = 'double';
        else if (c === '#') state = 'comment';
        else if (state === 'unquoted' && isSpace(c)) state = 'whitespace';
        else {
          append(c, c === '$');
          state = 'unquoted';
        }
        break;
      case 'single':
        if (c === "'") state = 'whitespace';
        else append(c);
        break;
      case 'double':
        if (c === '"') state = 'whitespace';
        else if (c === '\\') state = 'escape';
        else append(c, c === '$');
        break;
      case 'escape': {
        const map: Record<string, string> = { '"': '"', '\\': '\\', $: '$', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
        const out = map[c];
        if (out === undefined) return { error: `unexpected escape sequence \\${c}` };
        append(out);
        state = 'double';
        break;
      }
      case 'whitespace':
        if (c === '#') state = 'comment';
        else if (!isSpace(c)) return { error: 'unexpected whitespace (quote values that contain spaces)' };
        break;
      case 'comment':
        break;
    }
  }
  if (state === 'single' || state === 'double' || state === 'escape') return { error: 'missing closing quote' };
  return { chars, vars };
}

/**
 * Parses a Laravel `.env` file: `KEY=VALUE` lines, `#` comments, optional `export `, single quotes (literal),
 * double quotes (escapes, multi-line), `${VAR}` interpolation in unquoted and double-quoted values from
 * earlier keys in the file (then `env`; unresolved references stay as written, like phpdotenv).
 */
export function parseDotenv(text: string, env: NodeJS.ProcessEnv = {}): DotenvResult {
  const values: Record<string, string> = {};
  const errors: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const entries: { text: string; line: number }[] = [];
  let multiline = false;
  let buffer: string[] = [];
  let bufferStart = 0;
  lines.forEach((line, idx) => {
    const started = looksLikeMultilineStart(line);
    if (started) multiline = true;
    if (multiline) {
      if (buffer.length === 0) bufferStart = idx + 1;
      buffer.push(line);
      if (looksLikeMultilineStop(line, started)) {
        multiline = false;
        line = buffer.join('\n');
        buffer = [];
      }
    }
    const trimmed = line.trim();
    if (!multiline && trimmed !== '' && !trimmed.startsWith('#')) {
      entries.push({ text: line, line: line.includes('\n') ? bufferStart : idx + 1 });
    }
  });
  for (const entry of entries) {
    const eq = entry.text.indexOf('=');
    let name = (eq === -1 ? entry.text : entry.text.slice(0, eq)).trim();
    const rawValue = eq === -1 ? null : entry.text.slice(eq + 1).trim();
    if (eq !== -1 && name === '') {
      errors.push(`line ${entry.line}: unexpected "=" (no variable name)`);
      continue;
    }
    if (name.length > 7 && name.startsWith('export') && isSpace(name[6] ?? '')) name = name.slice(6).trimStart();
    if (name.length >= 3 && ((name.startsWith('"') && name.endsWith('"')) || (name.startsWith("'") && name.endsWith("'")))) {
      name = name.slice(1, -1);
    }
    if (!NAME_RE.test(name)) {
      errors.push(`line ${entry.line}: invalid variable name ${JSON.stringify(name.split('\n')[0])}`);
      continue;
    }
    if (rawValue === null) continue; // a bare name sets nothing
    const parsed = parseDotenvValue(rawValue);
    if ('error' in parsed) {
      errors.push(`line ${entry.line}: ${name}: ${parsed.error}`);
      continue;
    }
    let s = parsed.chars;
    for (const i of [...parsed.vars].sort((a, b) => b - a)) {
      s =
        s.slice(0, i) +
        s.slice(i).replace(/^\$\{([a-zA-Z0-9_.]+)\}/, (whole, ref: string) => values[ref] ?? env[ref] ?? whole);
    }
    values[name] = s;
  }
  if (multiline) errors.push(`line ${bufferStart}: missing closing quote`);
  return { values, errors };
}
