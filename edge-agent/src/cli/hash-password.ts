import { hashPassword } from '../hub/password-hash.js';

/** `tether-agent hash-password`: the hashed form a hub principal's `password` accepts. */
export async function hashPasswordCommand(password: string | undefined): Promise<number> {
  const plain = password ?? (await readStdin()).replace(/\r?\n$/, '');
  if (plain.length === 0) {
    console.error('tether-agent: hash-password needs a password (--password TEXT or on stdin)');
    return 2;
  }
  console.log(hashPassword(plain));
  return 0;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
