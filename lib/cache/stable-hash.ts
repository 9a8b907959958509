import { hash } from 'node:crypto';

/**
 * A short hash of a method's arguments that is the same in every process and for every key
 * order of plain objects (`{a,b}` and `{b,a}` hash alike). Returns `undefined` for arguments
 * that have no stable form (functions, symbols, cycles): such calls are not cached.
 */
export function stableHash(args: readonly unknown[]): string | undefined {
  let text = primitiveListText(args);
  if (text === undefined) {
    const parts: string[] = [];
    if (!appendStable(args, parts, [])) return undefined;
    text = parts.join('');
  }
  // The one-shot hash: about 4× faster than createHash() for a short text.
  return hash('sha1', text, 'base64url');
}

/**
 * The canonical text appendStable() writes for a list of strings and numbers other than -0
 * (the common case of a cached method's arguments), built without its buffers; undefined for
 * any other list.
 */
function primitiveListText(args: readonly unknown[]): string | undefined {
  let text = '[';
  for (const arg of args) {
    if (typeof arg === 'string') text += `${JSON.stringify(arg)},`;
    else if (typeof arg === 'number' && !Object.is(arg, -0)) text += `${arg},`;
    else return undefined;
  }
  return `${text}]`;
}

/** Writes a canonical text of `value` into `out`; false when it has none. */
function appendStable(value: unknown, out: string[], ancestors: object[]): boolean {
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return true;
    case 'number':
      out.push(Object.is(value, -0) ? '-0' : String(value));
      return true;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return true;
    case 'bigint':
      out.push(`${value}n`);
      return true;
    case 'undefined':
      out.push('undefined');
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) {
    out.push('null');
    return true;
  }
  if (ancestors.includes(value)) return false;
  ancestors.push(value);
  try {
    if (value instanceof Date) {
      out.push(`Date(${value.getTime()})`);
      return true;
    }
    if (Array.isArray(value)) return appendList('[', value, out, ancestors);
    if (value instanceof Set) return appendList('Set[', [...value], out, ancestors);
    if (value instanceof Map) {
      return appendEntries('Map{', [...value], out, ancestors);
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    return appendEntries(
      '{',
      keys.map((key) => [key, record[key]]),
      out,
      ancestors,
    );
  } finally {
    ancestors.pop();
  }
}

function appendList(open: string, items: unknown[], out: string[], ancestors: object[]): boolean {
  out.push(open);
  for (const item of items) {
    if (!appendStable(item, out, ancestors)) return false;
    out.push(',');
  }
  out.push(']');
  return true;
}

function appendEntries(
  open: string,
  entries: Array<[unknown, unknown]>,
  out: string[],
  ancestors: object[],
): boolean {
  out.push(open);
  for (const [key, item] of entries) {
    if (!appendStable(key, out, ancestors)) return false;
    out.push(':');
    if (!appendStable(item, out, ancestors)) return false;
    out.push(',');
  }
  out.push('}');
  return true;
}
