import type { ErrorCode } from '../errors.js';

/** JSON-RPC 2.0 wire types and the mapping of proxyctl error codes onto numeric codes. */

export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INVALID_PARAMS = -32602;
export const RPC_INTERNAL_ERROR = -32603;
/** Every other proxyctl error: the PXC_ERR_* code is in `error.data.code`. */
export const RPC_APPLICATION_ERROR = -32000;

export const RPC_ERROR_CODES: ReadonlyArray<readonly [number, string]> = [
  [RPC_PARSE_ERROR, 'parse error: the line is not JSON or not valid UTF-8'],
  [RPC_INVALID_REQUEST, 'invalid request: not a JSON-RPC 2.0 request object, or the line is too long'],
  [RPC_METHOD_NOT_FOUND, 'method not found'],
  [RPC_INVALID_PARAMS, 'invalid params: the message names the parameter'],
  [RPC_INTERNAL_ERROR, 'internal error in the agent'],
  [RPC_APPLICATION_ERROR, 'application error: error.data.code holds the PXC_ERR_* code'],
];

export function rpcCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'PXC_ERR_BAD_ENCODING':
      return RPC_PARSE_ERROR;
    case 'PXC_ERR_LINE_TOO_LONG':
      return RPC_INVALID_REQUEST;
    case 'PXC_ERR_UNKNOWN_COMMAND':
      return RPC_METHOD_NOT_FOUND;
    case 'PXC_ERR_BAD_PARAMS':
      return RPC_INVALID_PARAMS;
    case 'PXC_ERR_INTERNAL':
      return RPC_INTERNAL_ERROR;
    default:
      return RPC_APPLICATION_ERROR;
  }
}

export type RpcId = string | number | null;

export interface RpcRequest {
  jsonrpc: '2.0';
  id?: RpcId;
  method: string;
  params?: unknown;
}

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: { code: ErrorCode };
}

export type RpcResponse = { jsonrpc: '2.0'; id: RpcId; result: unknown } | { jsonrpc: '2.0'; id: RpcId; error: RpcErrorObject };
