import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { silentLogger } from '@tether/node-shared/logging';
import { TetherError } from '@tether/shared';
import { type DeadLetter, DeadLetterStore } from '../queue/dead-letter-store.js';
import type { PendingWrite } from '../queue/queue-table.js';
import { SqliteStore } from '../queue/sqlite-store.js';

export type DeadLetterAction = 'list' | 'requeue' | 'drop';

export interface DeadLettersOptions {
  readonly action: DeadLetterAction;
  readonly dataDir: string;
  /** Dead letter ids; none: every one (`drop` needs `all` then). */
  readonly ids: readonly number[];
  readonly all: boolean;
  readonly print?: (line: string) => void;
}

/**
 * `tether-agent deadletters list|requeue|drop`: the dead letters of a stopped agent's store. The
 * store is opened exclusively, so while the agent runs this refuses with TETHER_ERR_STORE
 * instead of racing it. `requeue` puts a message at the end of its queue (it goes out after the
 * backlog) and forgets the dead letter, in one transaction.
 */
export function deadLettersCommand(options: DeadLettersOptions): number {
  const print = options.print ?? ((line: string) => console.log(line));
  if (options.action === 'drop' && options.ids.length === 0 && !options.all) {
    throw new TetherError('TETHER_ERR_USAGE', 'deadletters drop needs --id N (repeatable) or --all');
  }
  const store = openStore(options.dataDir);
  try {
    const deadLetters = new DeadLetterStore(store);
    const selected = select(deadLetters, options.ids);
    if (options.action === 'list') {
      for (const letter of selected) print(describe(letter));
      print(`${selected.length} dead letter${selected.length === 1 ? '' : 's'}`);
      return 0;
    }
    const failures: Error[] = [];
    for (const letter of selected) {
      if (options.action === 'requeue') store.table(letter.queue).insert(requeued(letter, failures));
      deadLetters.remove(letter.id);
    }
    store.flush();
    if (failures.length > 0) throw failures[0];
    const verb = options.action === 'requeue' ? 're-queued' : 'dropped';
    for (const letter of selected)
      print(`${verb} ${letter.id} (${letter.queue}) ${JSON.stringify(letter.message.topic)}`);
    print(`${selected.length} dead letter${selected.length === 1 ? '' : 's'} ${verb}`);
    return 0;
  } finally {
    store.close();
  }
}

function openStore(dataDir: string): SqliteStore {
  const dir = resolve(dataDir);
  // listing must not create an empty store where the user mistyped the folder
  if (!existsSync(join(dir, 'queue.db'))) {
    throw new TetherError('TETHER_ERR_STORE', `no store in ${dir} (queue.db is missing); pass the agent's --data-dir`);
  }
  try {
    return SqliteStore.open(dir, { durability: 'fsync' }, silentLogger());
  } catch (error) {
    if (error instanceof TetherError && /in use/.test(error.message)) {
      throw new TetherError('TETHER_ERR_STORE', `${error.message}: stop the agent to work on its dead letters`, {
        cause: error,
      });
    }
    throw error;
  }
}

function select(deadLetters: DeadLetterStore, ids: readonly number[]): DeadLetter[] {
  if (ids.length === 0) return deadLetters.list();
  return ids.map((id) => {
    const letter = deadLetters.get(id);
    if (!letter) throw new TetherError('TETHER_ERR_USAGE', `--id ${id}: no such dead letter (see deadletters list)`);
    return letter;
  });
}

function requeued(letter: DeadLetter, failures: Error[]): PendingWrite {
  return {
    message: letter.message,
    cancelled: false,
    written(error) {
      if (error) failures.push(error);
    },
  };
}

/** One line per dead letter; the topic JSON-quoted (it may hold what made it a dead letter). */
function describe(letter: DeadLetter): string {
  const { id, queue, message, attempts, deadAt, reason } = letter;
  return [
    `${id}`,
    `queue=${queue}`,
    `topic=${JSON.stringify(message.topic)}`,
    `qos=${message.qos}`,
    `bytes=${message.payload.length}`,
    `attempts=${attempts}`,
    `at=${new Date(deadAt).toISOString()}`,
    `reason=${JSON.stringify(reason)}`,
  ].join(' ');
}
