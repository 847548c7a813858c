import net from 'node:net';

/** A request written byte for byte: nothing is checked, encoded or added but `Host`, `Connection: close` and, unless given, `Content-Length`. */
export interface RawRequest {
  method: string;
  /** Sent as is: percent-encode it yourself. */
  path: string;
  /** Names and values in order (a name may repeat); a value's characters are sent as latin1 bytes. */
  headers: Array<[string, string]>;
  body?: Buffer;
}

/** What came back. */
export interface RawResponse {
  status: number;
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  text: string;
}

/** A header value carrying these characters as UTF-8 bytes (Node reads header bytes as latin1). */
export function utf8Header(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1');
}

/**
 * Sends one request over a fresh TCP connection, with none of the checks an HTTP client makes
 * (control bytes in headers, raw UTF-8, broken framing, paths of any length), and reads the
 * answer until the server closes the connection.
 */
export function sendRaw(baseUrl: string, request: RawRequest, timeoutMs = 15_000): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  const lines = [`${request.method} ${request.path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Connection: close'];
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
  const hasLength = request.headers.some(([name]) => /^(content-length|transfer-encoding)$/i.test(name));
  if (request.body && !hasLength) lines.push(`Content-Length: ${request.body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let failure: Error | undefined;
    const timer = setTimeout(() => {
      failure = new Error(`no complete answer within ${timeoutMs} ms`);
      socket.destroy();
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server may answer (413, 431, 400) and close before it has read all we send: a
    // reset while writing is expected then, and the answer already read is what counts.
    socket.on('error', (error) => {
      failure ??= error;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const response = parseResponse(Buffer.concat(chunks));
      if (response) resolve(response);
      else reject(new Error(`no HTTP answer (${failure?.message ?? 'connection closed'}); received ${Buffer.concat(chunks).length} bytes`));
    });
    socket.write(head);
    if (request.body) socket.write(request.body);
  });
}

function parseResponse(all: Buffer): RawResponse | undefined {
  const end = all.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...headerLines] = all.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  if (!Number.isInteger(status)) return undefined;
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = all.subarray(end + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status, headers, text: body.toString('utf8') };
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let rest = body; ; ) {
    const lineEnd = rest.indexOf('\r\n');
    const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
    rest = rest.subarray(lineEnd + 2 + size + 2);
  }
}
