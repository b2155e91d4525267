import { createHash } from 'node:crypto';
import { type Policy, THING_PLACEHOLDER } from '@tether/shared';

/**
 * Tether's policy model mapped to each provider's own form. Pure: text in, text out.
 */

export interface ThingTopics {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/**
 * A Mosquitto ACL (`acl_file`) with one block per thing: the username is the certificate's CN
 * (`use_identity_as_username`), `write` allows publishing, `read` subscribing and receiving.
 * A thing absent from the file may do nothing: Mosquitto denies what no line allows.
 */
export function mosquittoAcl(entries: readonly ({ readonly username: string } & ThingTopics)[]): string {
  const lines = ["# written by tether-cloud from the things' policies; do not edit (re-run provision)"];
  for (const entry of entries) {
    lines.push('', `user ${entry.username}`);
    const both = new Set(entry.publish.filter((f) => entry.subscribe.includes(f)));
    for (const f of both) lines.push(`topic readwrite ${f}`);
    for (const f of entry.publish) if (!both.has(f)) lines.push(`topic write ${f}`);
    for (const f of entry.subscribe) if (!both.has(f)) lines.push(`topic read ${f}`);
  }
  return `${lines.join('\n')}\n`;
}

/** AWS IoT's policy variable for the thing attached to the connecting certificate. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: AWS IoT's policy variable syntax, not a JS template
export const AWS_THING_VARIABLE = '${iot:Connection.Thing.ThingName}';

/** Where an AWS IoT policy's resources live: the ARN's partition, region and account. */
export interface AwsArnScope {
  /** `aws`, `aws-cn`, `aws-us-gov`…: see {@link awsPartition}. */
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

/**
 * An AWS IoT policy document for a whole fleet: `{thing}` becomes `${iot:Connection.Thing.ThingName}`,
 * so a certificate only acts as the thing it is attached to, and its client id must be that name.
 *
 * MQTT wildcards are literal characters in IoT policy resources; the policy wildcard is `*`, which
 * also spans levels. So `+` and `#` both become `*`: the document allows at least what the model
 * allows (a `+` level may match several levels at AWS). Subscribing is checked against
 * `topicfilter/` resources, receiving and publishing against `topic/` resources.
 *
 * A PUBLISH with the RETAIN flag needs `iot:RetainPublish` on the topic as well as `iot:Publish`
 * (AWS IoT developer guide, "Retained message policy examples": "To publish retained messages, a
 * device needs iot:Publish and iot:RetainPublish permissions"); without it AWS refuses the publish.
 * Bridges forward the flag by default (`retain: true` on a subscription), so every topic the thing
 * may publish to may also be retained there. Receiving a retained message on subscribe needs only
 * `iot:Receive`.
 */
export function awsPolicyDocument(policy: Policy, arn: AwsArnScope): string {
  const prefix = `arn:${arn.partition}:iot:${arn.region}:${arn.account}`;
  const resource = (kind: 'topic' | 'topicfilter', filter: string) =>
    `${prefix}:${kind}/${filter
      .split('/')
      .map((level) => (level === '+' || level === '#' ? '*' : level))
      .join('/')
      .replaceAll(THING_PLACEHOLDER, AWS_THING_VARIABLE)}`;
  const statements: { Effect: 'Allow'; Action: string | string[]; Resource: string[] }[] = [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: [`${prefix}:client/${AWS_THING_VARIABLE}`] },
  ];
  if (policy.publish.length > 0) {
    statements.push({
      Effect: 'Allow',
      Action: ['iot:Publish', 'iot:RetainPublish'],
      Resource: policy.publish.map((f) => resource('topic', f)),
    });
  }
  if (policy.subscribe.length > 0) {
    statements.push(
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: policy.subscribe.map((f) => resource('topicfilter', f)) },
      { Effect: 'Allow', Action: 'iot:Receive', Resource: policy.subscribe.map((f) => resource('topic', f)) },
    );
  }
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

/**
 * The ARN partition of an AWS region: `aws-cn` for China (cn-north-1, cn-northwest-1), `aws-us-gov`
 * for GovCloud (us-gov-west-1, us-gov-east-1), the isolated partitions by their prefixes, `aws`
 * otherwise (AWS General Reference, "Amazon Resource Names": arn:partition:service:region:…).
 * An ARN AWS handed back carries its partition already; this is for when only the region is known.
 */
export function awsPartition(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('eu-isoe-')) return 'aws-iso-e';
  if (region.startsWith('us-isof-')) return 'aws-iso-f';
  return 'aws';
}

/** Partition, region and account of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:…`); undefined when it is none. */
export function arnScope(arn: string): AwsArnScope | undefined {
  const [head, partition, , region, account] = arn.split(':');
  if (head !== 'arn' || !partition || !region || !account) return undefined;
  return { partition, region, account };
}

export type BaiduOperation = 'PUBLISH' | 'SUBSCRIBE';

/** Baidu IoTHub permissions (one per topic, with its operations) for one thing's expanded topics. */
export function baiduPermissions(topics: ThingTopics): { topic: string; operations: BaiduOperation[] }[] {
  const byTopic = new Map<string, BaiduOperation[]>();
  for (const f of topics.publish) byTopic.set(f, ['PUBLISH']);
  for (const f of topics.subscribe) byTopic.set(f, [...(byTopic.get(f) ?? []), 'SUBSCRIBE']);
  return [...byTopic].map(([topic, operations]) => ({ topic, operations }));
}

/** IoT Core's template variable for the connecting device's name ("管理模板", see below). */
export const IOTCORE_DEVICE_VARIABLE = '{deviceName}';

/** What one IoT Core template topic allows: publish, subscribe, or both (IoTCoreClient's Permission enum). */
export type IotCorePermission = 'PUB' | 'SUB' | 'ALL';

export interface IotCoreTemplateTopic {
  readonly topicFilter: string;
  readonly permission: IotCorePermission;
}

/** "系统限制" (https://cloud.baidu.com/doc/IoTCore/s/3k7o8yehh): 单模板可管理主题数量 12. */
export const IOTCORE_TOPICS_PER_TEMPLATE = 12;
const IOTCORE_ADVANCED_MAX_LEVELS = 5;
const IOTCORE_MAX_TOPIC_LENGTH = 255;
const IOTCORE_COMMON_PREFIX = `$iot/${IOTCORE_DEVICE_VARIABLE}/`;

/**
 * A policy as the topics of one Baidu IoT Core device template, for the whole fleet: `{thing}`
 * becomes `{deviceName}`, the variable IoT Core replaces with the connecting device's name
 * (Device Template, https://intl.cloud.baidu.com/doc/IoTCore/s/2k7o8yf4k-en: "{deviceName} is the
 * variable; when using corresponding device for connection, replace it with the device name").
 * A filter both published and subscribed is one topic with `ALL`.
 */
export function iotCoreTemplateTopics(policy: Policy): IotCoreTemplateTopic[] {
  const byFilter = new Map<string, IotCorePermission>();
  const mapped = (f: string) => f.replaceAll(THING_PLACEHOLDER, IOTCORE_DEVICE_VARIABLE);
  for (const f of policy.publish) byFilter.set(mapped(f), 'PUB');
  for (const f of policy.subscribe) {
    const filter = mapped(f);
    byFilter.set(filter, byFilter.get(filter) === 'PUB' ? 'ALL' : 'SUB');
  }
  return [...byFilter].map(([topicFilter, permission]) => ({ topicFilter, permission }));
}

/**
 * Where a policy breaks the rules of an IoT Core template, as sentences naming the filter. The same
 * Device Template document: a topic of the common mode is `$iot/{deviceName}/…`; an advanced-mode
 * topic "cannot be started with $, with the longest definition of five layers, and the total
 * length shall not exceed 255 characters"; "系统限制": at most 12 topics a template.
 */
export function iotCoreTemplateProblems(policy: Policy): string[] {
  const topics = iotCoreTemplateTopics(policy);
  const problems: string[] = [];
  if (topics.length > IOTCORE_TOPICS_PER_TEMPLATE) {
    problems.push(
      `policy: ${topics.length} topic filters; a Baidu IoT Core template holds at most ${IOTCORE_TOPICS_PER_TEMPLATE}`,
    );
  }
  for (const { topicFilter } of topics) {
    const shown = topicFilter.replaceAll(IOTCORE_DEVICE_VARIABLE, THING_PLACEHOLDER);
    if (topicFilter.length > IOTCORE_MAX_TOPIC_LENGTH) {
      problems.push(
        `policy: "${shown}" is longer than the ${IOTCORE_MAX_TOPIC_LENGTH} characters of an IoT Core topic`,
      );
    } else if (topicFilter.startsWith('$')) {
      if (!topicFilter.startsWith(IOTCORE_COMMON_PREFIX)) {
        problems.push(`policy: "${shown}": an IoT Core template topic under $ must start with $iot/{thing}/`);
      }
    } else if (topicFilter.split('/').length > IOTCORE_ADVANCED_MAX_LEVELS) {
      problems.push(
        `policy: "${shown}" has ${topicFilter.split('/').length} levels; an IoT Core template topic outside $iot/{thing}/ has at most ${IOTCORE_ADVANCED_MAX_LEVELS}`,
      );
    }
  }
  return problems;
}

/**
 * A name for a policy derived from its content: the same policy gets the same name across runs and
 * things (so re-runs find it), a changed policy a new one (so no thing silently gets another's rights).
 */
export function policyName(policy: Policy): string {
  const canonical = JSON.stringify({ publish: [...policy.publish].sort(), subscribe: [...policy.subscribe].sort() });
  return `tether-${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`;
}
