import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { configFromContext } from '../src/app-config.js';

const from = (context: Record<string, unknown>) => configFromContext((key) => context[key]);

describe('configFromContext', () => {
  it('defaults to the stack TetherProvisioning with no options', () => {
    expect(from({})).toEqual({ stackName: 'TetherProvisioning', props: {} });
  });

  it('reads -c strings and cdk.json values alike', () => {
    // given
    const policy = { publish: ['lab/{thing}/up/#'], subscribe: ['lab/{thing}/down/#'] };
    const cli = {
      'tether:stackName': 'TetherLab',
      'tether:thingPrefix': 'lab-',
      'tether:policy': JSON.stringify(policy),
      'tether:hub': 'tcp://10.0.0.2:1883',
      'tether:registry': 'true',
      'tether:localCa': 'false',
      'tether:logRetentionDays': '90',
    };
    const json = {
      ...cli,
      'tether:policy': policy,
      'tether:registry': true,
      'tether:localCa': false,
      'tether:logRetentionDays': 90,
    };

    // then
    const expected = {
      stackName: 'TetherLab',
      props: {
        thingPrefix: 'lab-',
        policy,
        hub: 'tcp://10.0.0.2:1883',
        registry: true,
        localCa: false,
        logRetention: RetentionDays.THREE_MONTHS,
      },
    };
    expect(from(cli)).toEqual(expected);
    expect(from(json)).toEqual(expected);
  });

  it('lists every bad value at once', () => {
    const bad = () =>
      from({
        'tether:thingPrefix': '',
        'tether:policy': '{"publish":"a/b"}',
        'tether:registry': 'yes',
        'tether:logRetentionDays': '45',
      });
    expect(bad).toThrow(/tether:thingPrefix.*\n.*tether:policy.*\n.*tether:registry.*\n.*tether:logRetentionDays/);
  });

  it('refuses a policy that is not JSON or has other keys', () => {
    expect(() => from({ 'tether:policy': '{publish:' })).toThrow(/tether:policy: not JSON/);
    expect(() => from({ 'tether:policy': { publish: ['a'], admin: true } })).toThrow(/tether:policy: expected/);
  });
});
