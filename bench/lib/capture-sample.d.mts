import type { DataPolicyConfig } from '../../dataplane/config/data-policy-config.js';
import type { CaptureInput } from '../../dataplane/policy/capture/capture-record.js';

export declare const CAPTURE_SAMPLE_PROMPT: string;
export declare function captureSampleInput(i: number): CaptureInput;
export declare function captureSamplePolicy(mode: DataPolicyConfig['mode'], detectors: readonly DataPolicyConfig['redaction']['detectors'][number][], destinations: DataPolicyConfig['destinations']): DataPolicyConfig;
