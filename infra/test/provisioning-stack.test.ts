import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PolicySchema } from '@tether/shared';
import { Token } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEVICE_POLICY, FUNCTION_ENV } from '../src/function-env.js';
import { actionsOf, allStatements, iotArn, render, type Synthesized, synth } from './template-helpers.js';

// Synthesis bundles the real handler with esbuild (seconds): one synthesis per configuration, shared by the tests.
const SYNTH_TIMEOUT = 120_000;

const functionOf = (s: Synthesized) => Object.values(s.template.findResources('AWS::Lambda::Function'))[0];
const environmentOf = (s: Synthesized): Record<string, unknown> => functionOf(s)?.Properties.Environment.Variables;
/** The asset's S3 key is `<hash>.zip`; the staged directory in the assembly is `asset.<hash>`. */
const bundleOf = (s: Synthesized) =>
  join(s.outdir, `asset.${String(functionOf(s)?.Properties.Code.S3Key).replace(/\.zip$/, '')}`, 'index.mjs');

describe('ProvisioningStack, default configuration', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth();
  }, SYNTH_TIMEOUT);
  afterAll(() => s?.dispose());

  it('runs the provisioning handler on Node 24 (nodejs24.x), arm64', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 256,
      Timeout: 30,
    });
    s.template.resourceCountIs('AWS::Lambda::Function', 1);
  });

  it('serves it through a function URL that requires IAM (SigV4) authentication', () => {
    s.template.resourceCountIs('AWS::Lambda::Url', 1);
    s.template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      TargetFunctionArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ProvisioningFunction'), 'Arn'] },
    });
    // No resource policy opens the URL to anyone: callers need an identity policy (the EnrollPolicy).
    s.template.resourceCountIs('AWS::Lambda::Permission', 0);
    s.template.hasOutput('FunctionUrl', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'FunctionUrl'] } });
  });

  it('offers a managed policy to call the URL, with both actions Lambda requires since October 2025', () => {
    const statements = allStatements(s.json).filter((x) => x.type === 'AWS::IAM::ManagedPolicy');
    expect(statements.map((x) => [actionsOf(x.statement), x.statement.Condition])).toEqual([
      [['lambda:InvokeFunctionUrl'], { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } }],
      [['lambda:InvokeFunction'], { Bool: { 'lambda:InvokedViaFunctionUrl': true } }],
    ]);
    for (const { statement } of statements)
      expect(render(statement.Resource)).toMatch(/^\$\{ProvisioningFunction\w+\.Arn\}$/);
  });

  it('keeps logs in its own log group with a retention', () => {
    s.template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^ProvisioningLogs') } },
    });
  });

  it("gives the function's role exactly its log writes and the IoT statements, and no managed policy", () => {
    const role = Object.values(s.template.findResources('AWS::IAM::Role'))[0];
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
    const granted = allStatements(s.json)
      .filter((x) => x.type === 'AWS::IAM::Policy')
      .map(({ statement }) => [statement.Sid ?? '', actionsOf(statement).join(' '), render(statement.Resource)]);
    expect(granted).toEqual([
      ['', 'logs:CreateLogStream logs:PutLogEvents', expect.stringMatching(/^\$\{ProvisioningLogs\w+\.Arn\}$/)],
      [
        'IotAccountLevel',
        'iot:CreateCertificateFromCsr iot:CreateKeysAndCertificate iot:DescribeEndpoint iot:ListAttachedPolicies',
        '*',
      ],
      ['IotThingsWithPrefix', 'iot:CreateThing iot:DescribeThing iot:ListThingPrincipals', iotArn('thing/tether-*')],
      [
        'IotPoliciesWithPrefix',
        'iot:CreatePolicy iot:CreatePolicyVersion iot:DeletePolicyVersion iot:GetPolicy iot:ListPolicyVersions',
        iotArn('policy/tether-*'),
      ],
      [
        'IotCertificates',
        'iot:AttachPolicy iot:DeleteCertificate iot:DescribeCertificate iot:DetachPolicy iot:UpdateCertificate',
        iotArn('cert/*'),
      ],
      ['IotCertificatesOfPrefixedThings', 'iot:AttachThingPrincipal iot:DetachThingPrincipal', iotArn('cert/*')],
    ]);
  });

  it('grants no wildcard action anywhere in the template', () => {
    const statements = allStatements(s.json);
    expect(statements.length).toBeGreaterThan(5);
    for (const { resource, statement } of statements) {
      for (const action of actionsOf(statement)) {
        expect(action, `${resource} ${statement.Sid ?? ''}`).not.toContain('*');
      }
    }
  });

  it('configures the handler through its environment, with nothing secret in it', () => {
    expect(environmentOf(s)).toEqual({
      [FUNCTION_ENV.provider]: 'aws-iot',
      [FUNCTION_ENV.auth]: 'iam',
      [FUNCTION_ENV.policy]: JSON.stringify(DEFAULT_DEVICE_POLICY),
      [FUNCTION_ENV.thingPrefix]: 'tether-',
      NODE_OPTIONS: '--enable-source-maps',
    });
    // the default device policy is one the function accepts
    expect(PolicySchema.safeParse(DEFAULT_DEVICE_POLICY).success).toBe(true);
  });

  it('creates neither the registry nor the CA secret unless asked', () => {
    s.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    s.template.resourceCountIs('AWS::DynamoDB::Table', 0);
    s.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  it('bundles the handler into one ESM file with esbuild, no Docker', () => {
    const bundle = bundleOf(s);
    expect(existsSync(bundle)).toBe(true);
    expect(statSync(bundle).size).toBeGreaterThan(10_000);
  });

  it('deploys a bundle that runs with the environment the stack gives it', async () => {
    // given the bundled handler, loaded with exactly the template's environment
    const env = environmentOf(s) as Record<string, string>;
    const { NODE_OPTIONS: _, ...variables } = env;
    const saved = Object.fromEntries(Object.keys(variables).map((k) => [k, process.env[k]]));
    Object.assign(process.env, variables);
    try {
      const { handler } = (await import(bundleOf(s))) as { handler: (event: unknown) => Promise<any> };

      // when a function URL event carries a bad request (checked before any AWS call)
      const answer = await handler({ headers: {}, body: JSON.stringify({ thing: 'not a thing name', extra: 1 }) });

      // then the handler is configured (not a 500 "misconfigured") and names the problems
      expect(answer.statusCode).toBe(400);
      expect(JSON.parse(answer.body).error.code).toBe('TETHER_ERR_REQUEST');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }, 60_000);

  it('is environment-agnostic: region and account stay unresolved', () => {
    expect(Token.isUnresolved(s.stack.region)).toBe(true);
    expect(Token.isUnresolved(s.stack.account)).toBe(true);
    expect(JSON.stringify(s.json)).not.toMatch(/\b\d{12}\b/);
  });
});

describe('ProvisioningStack with the registry and the local CA secret', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({
      registry: true,
      localCa: true,
      thingPrefix: 'site7-',
      policy: { publish: ['site7/{thing}/up/#'], subscribe: ['site7/{thing}/down/#'] },
      hub: 'tcp://10.7.0.1:1883',
    });
  }, SYNTH_TIMEOUT);
  afterAll(() => s?.dispose());

  it('adds an on-demand DynamoDB registry keyed by thing name', () => {
    s.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    s.template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'thingName', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'thingName', AttributeType: 'S' }],
      },
    });
    s.template.hasOutput('RegistryTableName', {});
  });

  it('lets the function get, put and update registry items, and nothing else on the table', () => {
    const dynamo = allStatements(s.json).filter(({ statement }) =>
      actionsOf(statement).some((a) => a.startsWith('dynamodb:')),
    );
    expect(dynamo).toHaveLength(1);
    expect(actionsOf(dynamo[0]!.statement)).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    expect(render(dynamo[0]!.statement.Resource)).toMatch(/^\$\{RegistryTable\w+\.Arn\}$/);
  });

  it('adds a CA secret only the function can read', () => {
    s.template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    const reads = allStatements(s.json).filter(({ statement }) =>
      actionsOf(statement).includes('secretsmanager:GetSecretValue'),
    );
    const roleArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^ProvisioningRole'), 'Arn'] };
    // The function's role may read it…
    expect(reads.filter((r) => r.statement.Effect === 'Allow').map((r) => r.type)).toEqual(['AWS::IAM::Policy']);
    // …and the secret's own policy denies every other principal.
    s.template.hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
      SecretId: { Ref: Match.stringLikeRegexp('^LocalCaKeySecret') },
      ResourcePolicy: {
        Statement: [
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'secretsmanager:GetSecretValue',
            Resource: '*',
            Condition: { StringNotEquals: { 'aws:PrincipalArn': roleArn } },
          },
        ],
      },
    });
  });

  it('passes the table name and the secret ARN, never the secret value', () => {
    const env = environmentOf(s);
    expect(env).toEqual({
      [FUNCTION_ENV.provider]: 'aws-iot',
      [FUNCTION_ENV.auth]: 'iam',
      [FUNCTION_ENV.policy]: '{"publish":["site7/{thing}/up/#"],"subscribe":["site7/{thing}/down/#"]}',
      [FUNCTION_ENV.hub]: 'tcp://10.7.0.1:1883',
      [FUNCTION_ENV.thingPrefix]: 'site7-',
      [FUNCTION_ENV.registryTable]: { Ref: expect.stringMatching(/^RegistryTable/) },
      [FUNCTION_ENV.caSecretArn]: { Ref: expect.stringMatching(/^LocalCaKeySecret/) },
      NODE_OPTIONS: '--enable-source-maps',
    });
    expect(JSON.stringify(env)).not.toContain('resolve:secretsmanager');
  });

  it('scopes IoT statements to the configured prefixes', () => {
    const resources = allStatements(s.json)
      .filter(
        ({ statement }) =>
          actionsOf(statement).includes('iot:CreateThing') || actionsOf(statement).includes('iot:CreatePolicy'),
      )
      .map(({ statement }) => render(statement.Resource));
    // policies keep the provider's own `tether-` names
    expect(resources).toEqual([iotArn('thing/site7-*'), iotArn('policy/tether-*')]);
  });
});
