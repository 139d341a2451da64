import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { dataPolicy } from '../../test/support/objects.js';
import { KubeError, type KubeObject } from '../kube/kube-client.js';
import { RetentionController } from './retention-controller.js';

const otlp = { name: 'collector', otlpLogs: { endpoint: 'http://127.0.0.1:4318/' } };
const policy = (namespace: string): KubeObject =>
  dataPolicy('audit', { subjects: { namespaces: [namespace] }, capture: { mode: 'Metadata' }, destinations: [otlp] }, { namespace }) as KubeObject;

describe('RetentionController', () => {
  it("checks every other policy's destinations when one policy's status write is refused", async () => {
    const written: string[] = [];
    const controller = new RetentionController({
      client: {
        request: async <T>(method: string, path: string): Promise<T> => {
          const ns = /namespaces\/([^/]+)\/datapolicies/.exec(path)?.[1] ?? '';
          if (method === 'PATCH' && ns === 'team-a') throw new KubeError(422, 'status of team-a/audit refused');
          written.push(ns);
          return {} as T;
        },
      },
      dataPolicies: new Map(['team-a', 'team-b', 'team-c'].map((ns) => [`${ns}/audit`, policy(ns)])),
      secrets: new Map(),
      isLeader: () => true,
      events: { record: async () => undefined },
      logger: pino({ level: 'silent' }),
      onConditionsChanged: () => undefined,
    });
    await expect(controller.pass()).rejects.toThrow('status of team-a/audit refused');
    expect(written.sort()).toEqual(['team-b', 'team-c']);
    expect(controller.condition('team-c', 'audit', 1)).toMatchObject({ type: 'DestinationReady', status: 'True' });
  });

  it('leaves alone a policy whose status names another installation: no check, no sweep, no status write', async () => {
    const written: string[] = [];
    const theirs = { ...policy('team-b'), status: { installation: 'team-b/b-operator' } } as KubeObject;
    const mine = { ...policy('team-a'), status: { installation: 'tollgate-system/tollgate-operator' } } as KubeObject;
    const controller = new RetentionController({
      client: {
        request: async <T>(_method: string, path: string): Promise<T> => {
          written.push(/namespaces\/([^/]+)\/datapolicies/.exec(path)?.[1] ?? '');
          return {} as T;
        },
      },
      dataPolicies: new Map([['team-a/audit', mine], ['team-b/audit', theirs], ['team-c/audit', policy('team-c')]]),
      secrets: new Map(),
      isLeader: () => true,
      installation: 'tollgate-system/tollgate-operator',
      events: { record: async () => undefined },
      logger: pino({ level: 'silent' }),
      onConditionsChanged: () => undefined,
    });
    await controller.pass();
    expect(written.sort()).toEqual(['team-a', 'team-c']);
    expect(controller.condition('team-b', 'audit', 1)).toBeUndefined();
  });
});
