// openid-client against the server: discovery (RFC 8414 metadata), a
// password grant, then a refresh of its refresh token; prints both responses.
//
//   node token.mjs --issuer URL --client-id ID --client-secret SECRET
//        [--auth basic|post] --username U --password P [--scope S]
//        [--refresh-scope S]
import * as client from 'openid-client'
import { clientOptions, discover, required, run } from './lib.mjs'

await run(
  {
    ...clientOptions,
    username: { type: 'string' },
    password: { type: 'string' },
    scope: { type: 'string' },
    'refresh-scope': { type: 'string' },
  },
  async (values) => {
    required(values, 'username', 'password')
    const config = await discover(values)
    const parameters = { username: values.username, password: values.password }
    if (values.scope !== undefined) parameters.scope = values.scope
    const password = await client.genericGrantRequest(config, 'password', parameters)
    const refreshParameters = {}
    if (values['refresh-scope'] !== undefined) refreshParameters.scope = values['refresh-scope']
    const refresh = await client.refreshTokenGrant(
      config,
      password.refresh_token,
      refreshParameters,
    )
    return {
      issuer: config.serverMetadata().issuer,
      token_endpoint: config.serverMetadata().token_endpoint,
      auth: values.auth,
      password: { ...password },
      refresh: { ...refresh },
    }
  },
)
