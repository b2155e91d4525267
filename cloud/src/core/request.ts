import { BrokerAddressSchema, formatIssues, ThingNameSchema } from '@tether/shared';
import { z } from 'zod';
import { RequestError } from './errors.js';

/**
 * What a device (or an operator's script) sends to the provisioning function: the thing's name, and
 * its CSR when the key stays on the device. The policy is the function's own configuration: a
 * device never chooses its rights.
 */
export const ProvisionBodySchema = z
  .object({
    thing: ThingNameSchema,
    /** PKCS#10 request, PEM. Without it the provider makes the key and the answer carries it. */
    csr: z.string().min(1).max(16_384).optional(),
    /** The thing has credentials: issue new ones and revoke the old (else the request is refused). */
    rotate: z.boolean().default(false),
    /** The local hub the bundle's service.yml connects to (default: the function's). */
    hub: BrokerAddressSchema.optional(),
  })
  .strict();
export type ProvisionBody = z.infer<typeof ProvisionBodySchema>;

/** Validates a request body (a JSON text or an object); every problem names its field. */
export function parseProvisionBody(raw: unknown): ProvisionBody {
  let data = raw;
  if (typeof raw === 'string' || Buffer.isBuffer(raw)) {
    try {
      data = JSON.parse(raw.toString());
    } catch {
      throw new RequestError(['(body): not JSON']);
    }
  }
  const result = ProvisionBodySchema.safeParse(data);
  if (!result.success) throw new RequestError(formatIssues(result.error.issues));
  return result.data;
}
