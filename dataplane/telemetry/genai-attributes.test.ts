import { describe, expect, it } from 'vitest';
import { ResponseFacts } from './genai-attributes.js';

describe('ResponseFacts', () => {
  // An upstream may repeat a finish reason on every chunk: one entry per chunk grew with the stream.
  it('keeps at most as many finish reasons as an answer may have choices', () => {
    const facts = new ResponseFacts();
    for (let i = 0; i < 1000; i++) facts.observe({ id: 'c', model: 'm', choices: [{ index: 0, finish_reason: 'stop' }] });
    expect(facts.finishReasons).toHaveLength(128);
    expect(facts.id).toBe('c');
  });
});

describe('ResponseFacts from a hostile upstream', () => {
  it('keeps at most 256 characters of each string it names itself by: they go onto spans', () => {
    const facts = new ResponseFacts();
    const huge = 'x'.repeat(4 * 1024 * 1024);
    facts.observe({ id: huge, model: huge, choices: [{ index: 0, finish_reason: huge }] });
    expect(facts.id).toHaveLength(256);
    expect(facts.model).toHaveLength(256);
    expect(facts.finishReasons[0]).toHaveLength(256);
  });
});
