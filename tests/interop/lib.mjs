// Shared by the interop scripts: argument parsing, one JSON document on
// stdout, errors as JSON too (exit status 1), and openid-client discovery.
import { parseArgs } from 'node:util'
import * as client from 'openid-client'

/** Print one JSON document on stdout. */
export function print(document) {
  process.stdout.write(`${JSON.stringify(document, null, 2)}\n`)
}

/** The fields of an error worth showing: openid-client's, oauth4webapi's, jose's. */
export function describeError(error) {
  const described = {
    name: error?.name ?? 'Error',
    code: error?.code,
    message: error?.message ?? String(error),
  }
  // ResponseBodyError (an RFC 6749 §5.2 error response) and friends.
  for (const key of ['error', 'error_description', 'status', 'claim', 'reason']) {
    if (error?.[key] !== undefined) described[key] = error[key]
  }
  const cause = error?.cause
  if (cause !== undefined) {
    if (cause instanceof Error) described.cause = describeError(cause)
    else if (cause instanceof Response) described.cause = { status: cause.status }
    else {
      try {
        described.cause = JSON.parse(JSON.stringify(cause))
      } catch {
        described.cause = String(cause)
      }
    }
  }
  return described
}

/**
 * Run `main(values, positionals)` with `options` (node:util parseArgs),
 * print what it returns; on an error print {"error": {...}} and exit 1.
 */
export async function run(options, main) {
  let parsed
  try {
    parsed = parseArgs({ options, allowPositionals: true, strict: true })
  } catch (error) {
    print({ error: { name: 'UsageError', code: 'ERR_USAGE', message: error.message } })
    process.exit(2)
  }
  try {
    print(await main(parsed.values, parsed.positionals))
  } catch (error) {
    print({ error: describeError(error) })
    process.exit(error instanceof UsageError ? 2 : 1)
  }
}

/** The options every openid-client script takes to discover the server. */
export const clientOptions = {
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  // basic (client_secret_basic), post (client_secret_post), none (public client)
  auth: { type: 'string', default: 'basic' },
  // oauth2: RFC 8414 /.well-known/oauth-authorization-server;
  // oidc: OpenID Connect Discovery /.well-known/openid-configuration
  algorithm: { type: 'string', default: 'oauth2' },
}

export function required(values, ...names) {
  for (const name of names) {
    if (values[name] === undefined) throw new UsageError(`--${name} is required`)
  }
}

export class UsageError extends Error {
  name = 'UsageError'
  code = 'ERR_USAGE'
}

export function clientAuth(kind, secret) {
  switch (kind) {
    case 'basic':
      return client.ClientSecretBasic(secret)
    case 'post':
      return client.ClientSecretPost(secret)
    case 'none':
      return client.None()
    default:
      throw new UsageError(`--auth must be basic, post or none, not ${kind}`)
  }
}

/** openid-client's Configuration from the server's discovered metadata
 * (plain http allowed: the tests run on loopback). */
export async function discover(values) {
  required(values, 'issuer', 'client-id')
  if (values.auth !== 'none') required(values, 'client-secret')
  return client.discovery(
    new URL(values.issuer),
    values['client-id'],
    undefined,
    clientAuth(values.auth, values['client-secret']),
    { algorithm: values.algorithm, execute: [client.allowInsecureRequests] },
  )
}

/** A token endpoint response as plain JSON (the helpers dropped), with the
 * ID token's validated claims when there is one. */
export function tokens(response) {
  const plain = { ...response }
  const claims = response.claims?.()
  return { tokens: plain, id_token_claims: claims ?? null }
}
