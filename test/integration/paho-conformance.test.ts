import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  formatPahoRun,
  listPahoTests,
  mergePahoRuns,
  type PahoRun,
  type PahoSuite,
  runPaho,
  shardPahoTests,
} from '@tether/test-helpers/paho';
import { startPahoHub, startPahoMosquitto } from '@tether/test-helpers/paho-brokers';
import { Teardown } from '@tether/test-helpers/teardown';
import { describe, it } from 'vitest';

/**
 * Eclipse Paho's interoperability tests (test/paho, MQTT 3.1.1 and 5) against Mosquitto, which proves the
 * runner reads results right, and against the embedded hub, which must keep passing what it passes today.
 * Raise the HUB_ lists as the hub learns more. Every suite and shard gets a broker of its own (the tests
 * share client ids and topics), and all run at once: the tests mostly sleep.
 */

/** Mosquitto 2.0.11 as configured by startPahoMosquitto. Fails: test_overlapping_subscriptions. */
const MOSQUITTO_311_PASSES = [
  'testBasic',
  'test_dollar_topics',
  'test_keepalive',
  'test_offline_message_queueing',
  'test_redelivery_on_reconnect',
  'test_retained_messages',
  'test_subscribe_failure',
  'test_unsubscribe',
  'test_zero_length_clientid',
];

/**
 * Fails: test_flow_control2 (no DISCONNECT 0x93 past Receive Maximum: the test waits forever),
 * test_server_topic_alias (sends no topic aliases), test_subscribe_failure (refuses with 0x87, which Paho's
 * v5 client cannot decode), test_subscribe_identifiers (two copies for two overlapping subscriptions),
 * test_will_delay (Session Expiry 0 does not cut the will delay).
 */
const MOSQUITTO_5_PASSES = [
  'test_assigned_clientid',
  'test_basic',
  'test_client_topic_alias',
  'test_dollar_topics',
  'test_flow_control1',
  'test_keepalive',
  'test_maximum_packet_size',
  'test_offline_message_queueing',
  'test_overlapping_subscriptions',
  'test_payload_format',
  'test_publication_expiry',
  'test_redelivery_on_reconnect',
  'test_request_response',
  'test_retained_message',
  'test_server_keep_alive',
  'test_session_expiry',
  'test_shared_subscriptions',
  'test_unsubscribe',
  'test_user_properties',
  'test_will_message',
  'test_zero_length_clientid',
  'test_subscribe_options',
];

/** The embedded hub passes at least these: all 10 (its `anonymous` principal refuses `test/nosubscribe`). */
const HUB_311_AT_LEAST = [
  'testBasic',
  'test_dollar_topics',
  'test_keepalive',
  'test_offline_message_queueing',
  'test_overlapping_subscriptions',
  'test_redelivery_on_reconnect',
  'test_retained_messages',
  'test_subscribe_failure',
  'test_unsubscribe',
  'test_zero_length_clientid',
];

/**
 * MQTT 5 on the hub of our own: 26 of 27 (Mosquitto 2.0.11: 22 with dynsec and max_keepalive, 21 by
 * default), 25 of them required (see test_client_topic_alias below). Left: test_subscribe_failure, which wants 0x80 where the hub, like Mosquitto, answers the
 * refused filter with 0x87 Not authorized (MQTT 5 table 2-6: the more specific code; Paho's v5 client
 * cannot decode 0x87 in a SUBACK).
 */
const HUB_5_AT_LEAST: string[] = [
  'test_assigned_clientid',
  'test_basic',
  // not test_client_topic_alias: it passes, but races. Its client has a persistent session and
  // subscribes to what it publishes; the hub sends that copy at once and the PUBACK only once the
  // copy is committed (the promise: acknowledged = stored). The test disconnects as soon as it sees
  // the copy and asserts its PUBACK had already come: on a loaded machine it sometimes has not (one
  // CI run in five here). Mosquitto acknowledges before anything is on disk, so it never races.
  'test_dollar_topics',
  'test_flow_control1',
  'test_flow_control2',
  'test_keepalive',
  'test_maximum_packet_size',
  'test_offline_message_queueing',
  'test_overlapping_subscriptions',
  'test_payload_format',
  'test_publication_expiry',
  'test_redelivery_on_reconnect',
  'test_request_response',
  'test_retained_message',
  'test_server_keep_alive',
  'test_server_topic_alias',
  'test_session_expiry',
  'test_shared_subscriptions',
  'test_subscribe_identifiers',
  'test_subscribe_options',
  'test_unsubscribe',
  'test_user_properties',
  'test_will_delay',
  'test_will_message',
  'test_zero_length_clientid',
];

/** Tests that hang on a broker lacking the feature: a shorter limit (each passes in about 2 s / 12 s). */
const TIMEOUTS: Record<string, number> = { test_flow_control2: 10_000, test_will_delay: 25_000 };
const V5_SHARDS = 4;

async function runAgainst(suite: PahoSuite, kind: 'mosquitto' | 'hub', shards: number, td: Teardown): Promise<PahoRun> {
  const root = await mkdtemp(join(tmpdir(), `tether-paho-${kind}-${suite}-`));
  td.add('remove temp dir', () => rm(root, { recursive: true, force: true }));
  const groups = shardPahoTests(await listPahoTests(suite), shards);
  const runs = await Promise.all(
    groups.map(async (tests, i) => {
      const dir = join(root, `shard-${i}`);
      const port =
        kind === 'mosquitto'
          ? (await startPahoMosquitto({ dir, teardown: td })).port
          : (await startPahoHub({ dir, teardown: td })).port;
      return runPaho(suite, '127.0.0.1', port, { tests, testTimeoutsMs: TIMEOUTS, timeoutMs: 80_000, teardown: td });
    }),
  );
  const run = mergePahoRuns(runs);
  console.log(formatPahoRun(run, `Paho MQTT ${suite} against ${kind === 'hub' ? 'the embedded hub' : 'Mosquitto'}`));
  return run;
}

/**
 * Mosquitto is the reference that proves the runner reads results right, not the thing under test.
 * Some of its passes are timing-bound on a loaded machine (test_will_message waits 10 s for a will
 * Mosquitto sends about 5.5 s after the connect, where the hub needs 4.6 s), so a known pass that
 * fails is run once more, alone, on a fresh broker, and the retry is printed. A test outside the
 * known set that passes is never retried: the exact-set assertion still catches a runner that
 * reads results wrong either way.
 */
async function runMosquittoReference(suite: PahoSuite, shards: number, known: readonly string[], td: Teardown) {
  const run = await runAgainst(suite, 'mosquitto', shards, td);
  const again = run.failed.map((f) => f.name).filter((name) => known.includes(name));
  if (again.length === 0) return run;
  const dir = await mkdtemp(join(tmpdir(), `tether-paho-mosquitto-${suite}-again-`));
  td.add('remove temp dir', () => rm(dir, { recursive: true, force: true }));
  const { port } = await startPahoMosquitto({ dir, teardown: td });
  const retry = await runPaho(suite, '127.0.0.1', port, {
    tests: again,
    testTimeoutsMs: TIMEOUTS,
    timeoutMs: 40_000,
    teardown: td,
  });
  console.log(formatPahoRun(retry, `Paho MQTT ${suite} against Mosquitto, known passes that failed, once more`));
  return {
    ...run,
    passed: [...run.passed, ...retry.passed],
    failed: run.failed.filter((f) => !retry.passed.includes(f.name)),
  };
}

const sorted = (names: readonly string[]) => [...names].sort();
// 80 s for the shards, 40 s for a retry of the reference's known passes, and the brokers' starts
const TEST_TIMEOUT_MS = 140_000;

describe.concurrent('Paho interoperability tests', () => {
  it(
    'MQTT 3.1.1: Mosquitto passes exactly its known set',
    async ({ expect, onTestFinished }) => {
      const td = new Teardown();
      onTestFinished(() => td.run());
      const run = await runMosquittoReference('3.1.1', 1, MOSQUITTO_311_PASSES, td);
      expect(sorted(run.passed), formatPahoRun(run, 'mosquitto 3.1.1')).toEqual(sorted(MOSQUITTO_311_PASSES));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'MQTT 3.1.1: the embedded hub passes at least what it passes today',
    async ({ expect, onTestFinished }) => {
      const td = new Teardown();
      onTestFinished(() => td.run());
      const run = await runAgainst('3.1.1', 'hub', 1, td);
      expect(sorted(run.passed), formatPahoRun(run, 'hub 3.1.1')).toEqual(
        expect.arrayContaining(sorted(HUB_311_AT_LEAST)),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'MQTT 5: Mosquitto passes exactly its known set',
    async ({ expect, onTestFinished }) => {
      const td = new Teardown();
      onTestFinished(() => td.run());
      const run = await runMosquittoReference('5', V5_SHARDS, MOSQUITTO_5_PASSES, td);
      expect(sorted(run.passed), formatPahoRun(run, 'mosquitto 5')).toEqual(sorted(MOSQUITTO_5_PASSES));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'MQTT 5: the embedded hub is recorded (and holds what HUB_5_AT_LEAST lists)',
    async ({ expect, onTestFinished }) => {
      const td = new Teardown();
      onTestFinished(() => td.run());
      const run = await runAgainst('5', 'hub', V5_SHARDS, td);
      expect(run.results).toHaveLength(27);
      expect(sorted(run.passed), formatPahoRun(run, 'hub 5')).toEqual(expect.arrayContaining(sorted(HUB_5_AT_LEAST)));
    },
    TEST_TIMEOUT_MS,
  );
});
