/**
 * `/V1/Chat/Completions/` → `/v1/chat/completions`: how the public port matches an endpoint's path
 * (case-insensitively, with or without a trailing slash). Whatever names an endpoint by its path
 * (the server's table, telemetry's operation) uses this one form, or a request served under a
 * variant of its path would be served without being counted.
 */
export function endpointPath(path: string): string {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return trimmed.toLowerCase();
}
