// The request schemas of lists, shared by the native routes and the compat layer's principals.
import { z } from 'zod';
import { emailAddress } from '../schemas.ts';

const MAX_MEMBERS = 1000;

const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .refine((s) => !/[\r\n\0]/.test(s), 'must not contain CR, LF or NUL');
const fields = {
  name: text(200).pipe(z.string().min(1)),
  email: emailAddress,
  description: text(1000).nullable(),
  members: z.array(z.string().max(64)).max(MAX_MEMBERS),
  external_members: z.array(emailAddress).max(MAX_MEMBERS),
};

export const createListBody = z
  .object({
    ...fields,
    description: fields.description.optional(),
    members: fields.members.default([]),
    external_members: fields.external_members.default([]),
  })
  .strict();
export const patchListBody = z.object(fields).partial().strict();
