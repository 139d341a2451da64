import { describe, expect, it } from 'vitest';
import { AUTO_EPOCHS_BOUND, createsFineTuningJob, epochsOf, exampleTokenBound } from './fine-tuning-admission.js';
import { createsEvalRun, definesEval, refuseModelGraders } from './eval-run-admission.js';
import { IMAGE_TOKENS } from '../../metering/token-estimate.js';

describe('fine-tuning worst case', () => {
  it('charges the epochs a job names, wherever it names them; "auto" or none the auto bound', () => {
    expect(epochsOf({ hyperparameters: { n_epochs: 4 } })).toBe(4);
    expect(epochsOf({ method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 2 } } } })).toBe(2);
    expect(epochsOf({ method: { type: 'dpo', dpo: { hyperparameters: { n_epochs: 7, beta: 0.1 } } } })).toBe(7);
    // Both given: the larger (the upstream decides which it trains).
    expect(epochsOf({ hyperparameters: { n_epochs: 9 }, method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 2 } } } })).toBe(9);
    expect(epochsOf({})).toBe(AUTO_EPOCHS_BOUND);
    expect(epochsOf({ hyperparameters: { n_epochs: 'auto' } })).toBe(25);
  });

  it('refuses epochs the API does not take, and reinforcement fine-tuning', () => {
    for (const n of [0, 51, 2.5, '3', -1]) expect(() => epochsOf({ hyperparameters: { n_epochs: n } })).toThrow(/n_epochs must be "auto" or a whole number from 1 to 50/);
    expect(() => epochsOf({ method: { type: 'reinforcement', reinforcement: {} } })).toThrow(expect.objectContaining({ status: 400, code: 'fine_tuning_unbounded' }));
  });

  it('bounds an example at one token a byte (CJK and digits included), and each image part at the image tokens', () => {
    const cjk = JSON.stringify({ messages: [{ role: 'user', content: '東京の天気' }] });
    expect(exampleTokenBound(cjk)).toBe(Buffer.byteLength(cjk));
    const image = JSON.stringify({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/a.png' } }] }] });
    expect(exampleTokenBound(image)).toBe(Buffer.byteLength(image) + 2 * IMAGE_TOKENS.other);
    // The job's models' bound (gpt-4o-mini: 48,169 an image), and image parts written with JSON escapes (before: 0).
    expect(exampleTokenBound(image, 48_169)).toBe(Buffer.byteLength(image) + 2 * 48_169);
    const escaped = image.replaceAll('image_url', 'image\\u005furl');
    expect((JSON.parse(escaped) as { messages: { content: { type: string }[] }[] }).messages[0]?.content[0]?.type).toBe('image_url');
    expect(exampleTokenBound(escaped)).toBe(Buffer.byteLength(escaped) + 2 * IMAGE_TOKENS.other);
  });

  it('knows which requests create a job, a run, or define an eval', () => {
    expect(createsFineTuningJob('POST', '/v1/fine_tuning/jobs')).toBe(true);
    expect(createsFineTuningJob('POST', '/v1/fine_tuning/jobs/ftjob-1/cancel')).toBe(false);
    expect(createsEvalRun('POST', '/v1/evals/eval_1/runs')).toBe(true);
    expect(createsEvalRun('POST', '/v1/evals/eval_1/runs/run_1')).toBe(false);
    expect(createsEvalRun('GET', '/v1/evals/eval_1/runs')).toBe(false);
    expect(definesEval('POST', '/v1/evals')).toBe(true);
    expect(definesEval('POST', '/v1/evals/eval_1')).toBe(true);
    expect(definesEval('POST', '/v1/evals/eval_1/runs')).toBe(false);
  });

  it('finds a model grader inside a multi grader', () => {
    expect(() => refuseModelGraders({ testing_criteria: [{ type: 'multi', graders: { a: { type: 'string_check' }, b: { type: 'score_model', model: 'o3' } } }] })).toThrow(/score_model grader/);
    expect(() => refuseModelGraders({ testing_criteria: [{ type: 'python', source: 'def grade(s, i): return 1' }] })).not.toThrow();
  });
});
