import type { ClusterNode, RedisOptions } from 'ioredis';

/**
 * Describes where the module connects, for logs and errors, without secrets: a password
 * becomes `***` and nothing else of the options is printed.
 */
export function describeStandalone(options: RedisOptions): string {
  const scheme = options.tls ? 'rediss' : 'redis';
  const credentials = options.password
    ? `${options.username ?? ''}:***@`
    : options.username
      ? `${options.username}@`
      : '';
  const db = options.db ? `/${options.db}` : '';
  if (options.path) return `${scheme}://${credentials}unix:${options.path}${db}`;
  return `${scheme}://${credentials}${options.host ?? 'localhost'}:${options.port ?? 6379}${db}`;
}

export function describeSentinel(
  name: string,
  sentinels: Array<{ host: string; port: number }>,
): string {
  return `sentinel master "${name}" via ${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
}

export function describeCluster(nodes: ClusterNode[]): string {
  const list = nodes.map((node) =>
    typeof node === 'object' ? `${node.host ?? 'localhost'}:${node.port ?? 6379}` : String(node),
  );
  return `cluster ${list.join(',')}`;
}

/** Replaces any password in text (e.g. an ioredis error quoting a URL) with `***`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text.replace(/(rediss?:\/\/[^:/@\s]*:)[^@\s]*@/g, '$1***@');
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join('***');
  }
  return out;
}
