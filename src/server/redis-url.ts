/** Redis URLs as the cluster options and the command line take them. */

/** True for redis:// and rediss:// (TLS) URLs. */
export function isRedisUrl(s: string): boolean {
  return /^rediss?:\/\//i.test(s);
}

/** The URL with any password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
