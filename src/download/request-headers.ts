/**
 * Extra request headers of a job (`--header 'Name: value'`, curl's and aria2's
 * form). The names the transfer sets itself, or that would break the framing,
 * are refused with the reason.
 */

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const RESERVED: Readonly<Record<string, string>> = {
  range: 'the download sets Range itself (parts and resumes)',
  'if-range': 'the download sets If-Range itself',
  'content-length': 'a GET has no body',
  'transfer-encoding': 'a GET has no body',
  connection: 'connections are managed by the agent',
  'keep-alive': 'connections are managed by the agent',
  upgrade: 'connections are managed by the agent',
  'proxy-authorization': 'give proxy credentials in the proxy URL',
};

/** `Name: value` → `[name, value]`, or an error message naming the header. */
export function parseHeader(raw: string): [string, string] | string {
  const colon = raw.indexOf(':');
  if (colon <= 0) return `header "${raw}": expected "Name: value"`;
  const name = raw.slice(0, colon).trim();
  const value = raw.slice(colon + 1).trim();
  if (!TOKEN.test(name)) return `header "${raw}": "${name}" is not a valid header name`;
  if (/[\r\n\0]/.test(value)) return `header ${name}: the value must not contain CR, LF or NUL`;
  const reserved = RESERVED[name.toLowerCase()];
  if (reserved) return `header ${name}: not allowed (${reserved})`;
  return [name, value];
}
