import { describe, expect, it } from 'vitest';
import { redactUserinfo } from '../../src/logging/redact.js';

describe('redactUserinfo', () => {
  it('hides user and password of every URL in a text', () => {
    const out = redactUserinfo('connect tcp://alice:s3cret@10.0.0.1:1883 then wss://bob:pw2@cloud.example/mqtt');
    expect(out).toBe('connect tcp://[redacted]@10.0.0.1:1883 then wss://[redacted]@cloud.example/mqtt');
  });

  it('covers a password that holds @ and a token without a user', () => {
    expect(redactUserinfo('ssl://u:p@ss@host:8883')).toBe('ssl://[redacted]@host:8883');
    expect(redactUserinfo('https://ghp_token123@github.com/x')).toBe('https://[redacted]@github.com/x');
  });

  it('stays inside one JSON string, escaped quotes included', () => {
    const line = JSON.stringify({ address: 'tcp://u:pa"ss@h:1', other: 'a@b' });
    const out = redactUserinfo(line);
    expect(out).not.toContain('pa');
    expect(JSON.parse(out)).toEqual({ address: 'tcp://[redacted]@h:1', other: 'a@b' });
  });

  it('leaves addresses without userinfo and e-mail addresses alone', () => {
    const text = 'tcp://127.0.0.1:1883 mail ops@example.com';
    expect(redactUserinfo(text)).toBe(text);
  });
});
