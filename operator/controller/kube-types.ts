import type { KubeObject } from '../kube/kube-client.js';

export interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

export interface ServiceObject extends KubeObject {
  /** ipFamilies: the Service's address families, primary first (dual-stack Services list two). */
  spec?: { ports?: { name?: string; port: number }[]; ipFamilies?: string[] | null };
}

export interface EndpointSliceObject extends KubeObject {
  addressType?: string;
  endpoints?:
    | {
        addresses: string[];
        conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
        /** The pod behind the addresses (the EndpointSlice controller sets it for a Service with a selector). */
        targetRef?: { kind?: string | null; name?: string | null } | null;
      }[]
    | null;
  ports?: { name?: string | null; port?: number | null }[] | null;
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
