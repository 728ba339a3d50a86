// The authorization code flow step by step with openid-client, for
// OpenID Connect (and plain OAuth 2.0 without the openid scope):
//
//   node oidc.mjs authorize CLIENT-OPTIONS --redirect-uri URI --scope S
//       → {url, code_verifier, code_challenge, nonce, state}
//   node oidc.mjs exchange CLIENT-OPTIONS --callback-url URL
//       --code-verifier V --state S [--nonce N] [--no-id-token]
//       → {tokens, id_token_claims}
//   node oidc.mjs refresh CLIENT-OPTIONS --refresh-token T [--scope S]
//       → {tokens, id_token_claims}
//   node oidc.mjs userinfo CLIENT-OPTIONS --access-token T --sub SUB
//       → the UserInfo response (its sub checked against SUB)
//
// CLIENT-OPTIONS: --issuer URL --client-id ID [--client-secret S]
// [--auth basic|post|none] [--algorithm oauth2|oidc] (lib.mjs).
// `exchange` expects an ID token when the nonce is given, unless --no-id-token.
import * as client from 'openid-client'
import { clientOptions, discover, required, run, tokens, UsageError } from './lib.mjs'

const steps = {
  async authorize(values) {
    required(values, 'redirect-uri', 'scope')
    const config = await discover(values)
    const codeVerifier = client.randomPKCECodeVerifier()
    const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier)
    const nonce = client.randomNonce()
    const state = client.randomState()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: values['redirect-uri'],
      scope: values.scope,
      code_challenge: codeChallenge,
      code_challenge_method: 'S256',
      nonce,
      state,
    })
    return {
      url: url.href,
      code_verifier: codeVerifier,
      code_challenge: codeChallenge,
      nonce,
      state,
    }
  },

  async exchange(values) {
    required(values, 'callback-url', 'code-verifier', 'state')
    const config = await discover(values)
    const response = await client.authorizationCodeGrant(
      config,
      new URL(values['callback-url']),
      {
        pkceCodeVerifier: values['code-verifier'],
        expectedState: values.state,
        expectedNonce: values.nonce,
        idTokenExpected: values.nonce !== undefined && !values['no-id-token'],
      },
    )
    return tokens(response)
  },

  async refresh(values) {
    required(values, 'refresh-token')
    const config = await discover(values)
    const parameters = {}
    if (values.scope !== undefined) parameters.scope = values.scope
    return tokens(await client.refreshTokenGrant(config, values['refresh-token'], parameters))
  },

  async userinfo(values) {
    required(values, 'access-token', 'sub')
    const config = await discover(values)
    return { ...(await client.fetchUserInfo(config, values['access-token'], values.sub)) }
  },
}

await run(
  {
    ...clientOptions,
    'redirect-uri': { type: 'string' },
    scope: { type: 'string' },
    'callback-url': { type: 'string' },
    'code-verifier': { type: 'string' },
    state: { type: 'string' },
    nonce: { type: 'string' },
    'no-id-token': { type: 'boolean', default: false },
    'refresh-token': { type: 'string' },
    'access-token': { type: 'string' },
    sub: { type: 'string' },
  },
  async (values, positionals) => {
    const step = steps[positionals[0]]
    if (positionals.length !== 1 || step === undefined) {
      throw new UsageError(`one step expected: ${Object.keys(steps).join(', ')}`)
    }
    return step(values)
  },
)
