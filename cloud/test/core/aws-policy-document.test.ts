import { PolicySchema } from '@tether/shared';
import { describe, expect, it } from 'vitest';
import { arnScope, awsPartition, awsPolicyDocument } from '../../src/core/policy-map.js';

/**
 * The device policy checked the way AWS IoT evaluates it: an action on a resource is allowed when an
 * Allow statement names the action and one of its resources matches, `*` matching any characters
 * (also across `/`) and `${iot:Connection.Thing.ThingName}` standing for the thing attached to the
 * connecting certificate (developer guide, "AWS IoT Core policies" and "Thing policy variables").
 * No Deny statements are written, so none are evaluated.
 */
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: string[];
}

function allows(document: string, thing: string, action: string, resource: string): boolean {
  const statements = (JSON.parse(document) as { Statement: Statement[] }).Statement;
  return statements.some((s) => {
    const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
    if (s.Effect !== 'Allow' || !actions.includes(action)) return false;
    return s.Resource.some((pattern) => {
      const concrete = pattern.replaceAll('$' + '{iot:Connection.Thing.ThingName}', thing);
      const re = new RegExp(`^${concrete.split('*').map(escapeRegExp).join('.*')}$`);
      return re.test(resource);
    });
  });
}
const escapeRegExp = (text: string) => text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/** What a device does over MQTT, as the IoT actions AWS checks for it. */
function mayPublish(document: string, thing: string, prefix: string, topic: string, retain: boolean): boolean {
  const resource = `${prefix}:topic/${topic}`;
  // "Retained message policy examples": a retained PUBLISH needs iot:Publish and iot:RetainPublish
  return (
    allows(document, thing, 'iot:Publish', resource) &&
    (!retain || allows(document, thing, 'iot:RetainPublish', resource))
  );
}

const policy = PolicySchema.parse({
  publish: ['devices/{thing}/up/#', 'fleet/{thing}/state'],
  subscribe: ['devices/{thing}/down', 'fleet/+/all'],
});
const scope = { partition: 'aws', region: 'eu-west-1', account: '123456789012' };
const prefix = 'arn:aws:iot:eu-west-1:123456789012';
const document = awsPolicyDocument(policy, scope);

describe('the AWS IoT device policy, evaluated against the cases AWS documents', () => {
  it('lets the thing publish retained messages on its own topics (iot:RetainPublish)', () => {
    expect(mayPublish(document, 'gw-1', prefix, 'devices/gw-1/up/temp', true)).toBe(true);
    expect(mayPublish(document, 'gw-1', prefix, 'fleet/gw-1/state', true)).toBe(true);
    expect(mayPublish(document, 'gw-1', prefix, 'devices/gw-1/up/temp', false)).toBe(true);
  });

  it("refuses publishing, retained or not, on another thing's topic", () => {
    expect(mayPublish(document, 'gw-1', prefix, 'devices/gw-2/up/temp', true)).toBe(false);
    expect(mayPublish(document, 'gw-1', prefix, 'devices/gw-2/up/temp', false)).toBe(false);
    expect(mayPublish(document, 'gw-1', prefix, 'devices/gw-1/down', false)).toBe(false);
  });

  it('subscribes with topicfilter resources and receives (retained messages too) with topic resources', () => {
    expect(allows(document, 'gw-1', 'iot:Subscribe', `${prefix}:topicfilter/devices/gw-1/down`)).toBe(true);
    expect(allows(document, 'gw-1', 'iot:Subscribe', `${prefix}:topicfilter/fleet/+/all`)).toBe(true);
    expect(allows(document, 'gw-1', 'iot:Receive', `${prefix}:topic/fleet/eu/all`)).toBe(true);
    expect(allows(document, 'gw-1', 'iot:Subscribe', `${prefix}:topicfilter/devices/gw-2/down`)).toBe(false);
    // a subscription is not a publish right
    expect(allows(document, 'gw-1', 'iot:RetainPublish', `${prefix}:topic/devices/gw-1/down`)).toBe(false);
  });

  it('connects only with the client id that is the thing name', () => {
    expect(allows(document, 'gw-1', 'iot:Connect', `${prefix}:client/gw-1`)).toBe(true);
    expect(allows(document, 'gw-1', 'iot:Connect', `${prefix}:client/gw-2`)).toBe(false);
  });

  it('writes no publish statement for a policy that only subscribes', () => {
    const only = awsPolicyDocument(PolicySchema.parse({ subscribe: ['a/{thing}'] }), scope);
    expect(only).not.toContain('iot:RetainPublish');
    expect(mayPublish(only, 'gw-1', prefix, 'a/gw-1', true)).toBe(false);
  });
});

describe('ARN partitions', () => {
  it.each([
    ['eu-west-1', 'aws'],
    ['us-east-1', 'aws'],
    ['cn-north-1', 'aws-cn'],
    ['cn-northwest-1', 'aws-cn'],
    ['us-gov-west-1', 'aws-us-gov'],
    ['us-iso-east-1', 'aws-iso'],
    ['us-isob-east-1', 'aws-iso-b'],
  ])('%s is in partition %s', (region, partition) => {
    expect(awsPartition(region)).toBe(partition);
  });

  it('a China or GovCloud policy names its own partition in every resource', () => {
    for (const [partition, region] of [
      ['aws-cn', 'cn-north-1'],
      ['aws-us-gov', 'us-gov-west-1'],
    ] as const) {
      const doc = JSON.parse(awsPolicyDocument(policy, { partition, region, account: '123456789012' }));
      const resources: string[] = doc.Statement.flatMap((s: Statement) => s.Resource);
      expect(resources.length).toBeGreaterThan(0);
      for (const r of resources) expect(r.startsWith(`arn:${partition}:iot:${region}:123456789012:`)).toBe(true);
    }
  });

  it('reads partition, region and account from an ARN AWS returned', () => {
    expect(arnScope('arn:aws-cn:iot:cn-north-1:123456789012:thing/gw-1')).toEqual({
      partition: 'aws-cn',
      region: 'cn-north-1',
      account: '123456789012',
    });
    expect(arnScope('not-an-arn')).toBeUndefined();
  });
});
