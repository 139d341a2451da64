import { readFileSync } from 'node:fs';
import { Agent, request } from '../../config/undici.js';
import type { KubeApiConfig } from './kube-api.js';

export type ReviewResult =
  | { authenticated: true; username: string; audiences: string[] }
  | { authenticated: false; reason: string };

export interface TokenReviewer {
  review(token: string, audience: string): Promise<ReviewResult>;
}

interface TokenReviewResponse {
  status?: { authenticated?: boolean; user?: { username?: string }; audiences?: string[]; error?: string };
}

/** Asks the API server whether a token is valid for an audience (authentication.k8s.io/v1 TokenReview). */
export class KubeTokenReviewer implements TokenReviewer {
  private readonly agent: Agent;

  constructor(private readonly api: KubeApiConfig) {
    const connect: { ca?: string; cert?: string; key?: string } = {};
    if (api.ca !== undefined) connect.ca = api.ca;
    if (api.cert !== undefined) connect.cert = api.cert;
    if (api.key !== undefined) connect.key = api.key;
    this.agent = new Agent({ connect, keepAliveTimeout: 30_000 });
  }

  private bearer(): string | undefined {
    if (this.api.tokenFile !== undefined) return readFileSync(this.api.tokenFile, 'utf8').trim();
    return this.api.token;
  }

  async review(token: string, audience: string): Promise<ReviewResult> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    const bearer = this.bearer();
    if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
    const res = await request(`${this.api.server}/apis/authentication.k8s.io/v1/tokenreviews`, {
      method: 'POST',
      dispatcher: this.agent,
      headers,
      body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [audience] } }),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`TokenReview failed: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
    const status = (JSON.parse(text) as TokenReviewResponse).status;
    if (status?.authenticated !== true || status.user?.username === undefined) {
      return { authenticated: false, reason: status?.error ?? 'token not authenticated' };
    }
    return { authenticated: true, username: status.user.username, audiences: status.audiences ?? [] };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
