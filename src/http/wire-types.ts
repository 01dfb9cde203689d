// Schema building blocks for the endpoint definitions: the liberal input types of CONTRACT §2
// (what the services accept, so their own checks keep the field-specific answers) and the
// exact output types of the answers (the serializer writes only what these declare).
import { Type as T, type TSchema } from '@sinclair/typebox';

// ---- Inputs: query parameters arrive as strings, JSON bodies as whatever the client sent.

/** Text; lengths and formats are checked by the service, which names the field. */
export const Text = (description?: string) => T.String(description ? { description } : {});

/** A login: letters and digits, or a number for all-digit logins (`1234567801`). */
export const LoginIn = T.Union([T.String(), T.Integer()], { description: 'A login; an all-digit login may be sent as a JSON number' });

/** A positive integer id, as a JSON number or a string of digits. */
export const IdIn = T.Union([T.Integer(), T.String({ pattern: '^\\d+$' })], { description: 'A positive integer, as a number or a string of digits' });

/** An integer, as a JSON number or a string of digits (query parameters arrive as strings); empty means the default. */
export const IntIn = (note?: string) =>
  T.Union([T.Integer(), T.String({ pattern: '^-?\\d*$' })], { description: `An integer, as a number or a string of digits${note ? ` (${note.charAt(0).toLowerCase()}${note.slice(1)})` : ''}` });

/** An amount: a JSON number or a decimal string (`10`, `"25.5"`); stored to 6 decimals. */
export const MoneyIn = T.Union([T.Number(), T.String()], { description: 'A decimal amount, as a JSON number or a decimal string' });

/** A flag: true/false, 1/0, "1"/"0", "true"/"false". */
export const FlagIn = T.Union([
  T.Boolean(), T.Literal(0), T.Literal(1), T.Literal('0'), T.Literal('1'), T.Literal('true'), T.Literal('false'),
], { description: 'true or false; 1/0, "1"/"0" and "true"/"false" are accepted too' });

/** An optional field; `null` reads as absent, as PHP clients send it. */
export const Opt = <S extends TSchema>(schema: S, description = schema.description) =>
  T.Optional(T.Union([schema, T.Null()], description ? { description } : {}));

/** `client_login` of the APIs a reseller key uses on behalf of its clients; `note` says when it applies. */
export const ClientLoginIn = (note: string) => ({
  client_login: Opt(LoginIn, `The login of the reseller's own client to act for, as the client's own key would (any other answers 404); ${note}. An all-digit login may be sent as a JSON number`),
});

/** `limit` and `offset` of list endpoints (CONTRACT §2). */
export const PagingIn = {
  limit: Opt(IntIn('Page size, default 50, at most 500')),
  offset: Opt(IntIn('Rows to skip, default 0')),
};

/** The paging of lists that can be walked by cursor too: `after` is the `next` of an earlier answer. */
export const CursorPagingIn = {
  ...PagingIn,
  offset: Opt(IntIn('Rows to skip, default 0; a deep offset reads every row it skips: walk long lists with after')),
  after: Opt(Text('The `next` of an earlier answer: the page starts past that answer\'s last row (then offset must be 0 or absent); malformed answers 400')),
};

// ---- Outputs: exactly the fields and types clients see today.

export const Nullable = <S extends TSchema>(schema: S) => T.Union([schema, T.Null()]);

/** Server-local time of the billing timezone. */
export const LocalTime = T.String({ pattern: '^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}$', description: 'YYYY-MM-DD HH:MM:SS in the billing timezone' });

/** An amount rendered as a string with 4 decimals (`"1.0000"`), as the Client API shows it. */
export const Money4 = T.String({ pattern: '^-?\\d+\\.\\d{4}$', description: 'Decimal string with 4 decimals' });

/** An amount as a JSON number (exact to 6 decimals), as the Reseller API shows it. */
export const MoneyNumber = T.Number({ description: 'Amount as a JSON number, exact to 6 decimals' });

/** A 0/1 flag as the Client and Admin APIs show it. */
export const Flag01 = T.Integer({ minimum: 0, maximum: 1, description: '1 or 0' });

/** The total, limit and offset every list answer carries. */
export const PageOut = { total: T.Integer(), limit: T.Integer(), offset: T.Integer() };

/** A list answer that can be walked by cursor: `next` is the `after` of the following page. */
export const CursorPageOut = {
  ...PageOut,
  total: T.Integer({ description: 'Rows in the whole list (with its filter), however the page was reached' }),
  next: Nullable(T.String({ description: 'Pass as after to read the next page; null on the last page' })),
};
