import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { policyName } from '../../cloud/src/core/policy-map.js';
import { IOT_ACTION_SCOPES, IOT_POLICY_PREFIX, iotPolicyStatements, validatePrefixes } from '../src/iot-permissions.js';
import { workspaceRoot } from '../src/workspace.js';
import { iotActionsCalledBy } from './cloud-iot-calls.js';
import { iotArn, render } from './template-helpers.js';

const cloudSrc = join(workspaceRoot(), 'cloud', 'src');

function resolved(thingPrefix = 'dev-', policyPrefix = 'devpol-') {
  const stack = new Stack(new App(), 'S');
  return iotPolicyStatements(stack, { thingPrefix, policyPrefix }).map((s) => stack.resolve(s.toStatementJson()));
}

describe('the IoT permission table', () => {
  it('names exactly the IoT actions the cloud provider calls', () => {
    // given the commands imported from @aws-sdk/client-iot anywhere in cloud/src
    const called = iotActionsCalledBy(cloudSrc);

    // then the table grants each of them, and nothing the code does not call
    expect([...called.keys()].sort()).toEqual(Object.keys(IOT_ACTION_SCOPES).sort());
  });

  it('covers the names the provider gives its IoT policies', () => {
    // given two policies' names as the provider derives them from their content
    const names = [
      policyName({ publish: ['tether/{thing}/#'], subscribe: [] }),
      policyName({ publish: [], subscribe: ['a/+/b'] }),
    ];
    // then both fall under the policy/ prefix IAM allows
    for (const name of names) expect(name.startsWith(IOT_POLICY_PREFIX)).toBe(true);
  });

  it('grants each action once, in exactly one statement', () => {
    const granted = resolved().flatMap((s) => s.Action as string[]);
    expect(granted.sort()).toEqual(
      Object.keys(IOT_ACTION_SCOPES)
        .map((a) => `iot:${a}`)
        .sort(),
    );
  });

  it('scopes every action as far as AWS allows', () => {
    // when
    const byAction = Object.fromEntries(
      resolved().flatMap((s) =>
        (s.Action as string[]).map((a) => [a, { resource: render(s.Resource), condition: s.Condition }]),
      ),
    );

    // then: the Service Authorization Reference lists no resource type for these, so only "*" is valid
    for (const a of [
      'DescribeEndpoint',
      'CreateKeysAndCertificate',
      'CreateCertificateFromCsr',
      'ListAttachedPolicies',
    ]) {
      expect(byAction[`iot:${a}`]).toEqual({ resource: '*', condition: undefined });
    }
    for (const a of ['CreateThing', 'DescribeThing', 'ListThingPrincipals']) {
      expect(byAction[`iot:${a}`]?.resource).toBe(iotArn('thing/dev-*'));
    }
    for (const a of ['CreatePolicy', 'GetPolicy']) {
      expect(byAction[`iot:${a}`]?.resource).toBe(iotArn('policy/devpol-*'));
    }
    for (const a of ['AttachPolicy', 'DetachPolicy', 'DescribeCertificate', 'UpdateCertificate']) {
      expect(byAction[`iot:${a}`]).toEqual({ resource: iotArn('cert/*'), condition: undefined });
    }
    for (const a of ['AttachThingPrincipal', 'DetachThingPrincipal']) {
      const { resource, condition } = byAction[`iot:${a}`] ?? {};
      expect(resource).toBe(iotArn('cert/*'));
      expect(render(condition.ArnLike['iot:thingArn'])).toBe(iotArn('thing/dev-*'));
    }
  });

  it('never grants a wildcard action', () => {
    for (const s of resolved()) {
      for (const action of s.Action as string[]) expect(action).toMatch(/^iot:[A-Za-z]+$/);
    }
  });

  it('refuses an empty prefix (it would reach every thing or policy) and characters AWS IoT rejects', () => {
    expect(() => validatePrefixes({ thingPrefix: '', policyPrefix: 'p' })).toThrow(/thingPrefix/);
    expect(() => validatePrefixes({ thingPrefix: 't', policyPrefix: '' })).toThrow(/policyPrefix/);
    expect(() => validatePrefixes({ thingPrefix: 'a*', policyPrefix: 'p' })).toThrow(/thingPrefix/);
    expect(() => validatePrefixes({ thingPrefix: 't', policyPrefix: 'p/x' })).toThrow(/policyPrefix/);
    expect(() => validatePrefixes({ thingPrefix: 'site_7:gw-', policyPrefix: 'tether.v1@' })).not.toThrow();
  });
});
