import { STATUS_CODES, maxHeaderSize } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorBody } from './chronicle-exception.filter.js';

/**
 * Answers a request that Node's HTTP parser refuses before Express sees it (headers over
 * `maxHeaderSize`, control bytes in a header, a broken chunked body…) with the same JSON as
 * every other error, instead of Node's bare status line. Install with
 * `server.on('clientError', answerClientError)`.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // Node's own handler also checks that no response has started on this socket.
  const started = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (error.code === 'ECONNRESET' || !socket.writable || started) {
    socket.destroy();
    return;
  }
  const [statusCode, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, `The request line and headers are larger than ${Math.floor(maxHeaderSize / 1024)} KiB (ids are at most 64 characters, an Idempotency-Key at most 200).`]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request was not received in time.']
        : [400, `The request is not valid HTTP/1.1 (${error.code ?? 'unparsable'}): check the request line, the header names and values (no control characters) and the body framing.`];
  const body: ErrorBody = { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}
