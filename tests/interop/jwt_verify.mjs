// Verify a JWT access token (RFC 9068) the way a resource server would with
// jose: keys from the server's JWKS, issuer, audience and typ checked.
//
//   node jwt_verify.mjs --jwks-uri URL --issuer ISS --audience AUD
//        [--typ at+jwt] [--algorithms ES256,RS256] TOKEN
//   → {payload, protectedHeader}; on failure {"error": {code, ...}}, exit 1
//     (codes are jose's: ERR_JWT_EXPIRED, ERR_JWT_CLAIM_VALIDATION_FAILED,
//     ERR_JWS_SIGNATURE_VERIFICATION_FAILED, ERR_JWKS_NO_MATCHING_KEY, ...)
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { required, run, UsageError } from './lib.mjs'

await run(
  {
    'jwks-uri': { type: 'string' },
    issuer: { type: 'string' },
    audience: { type: 'string' },
    typ: { type: 'string', default: 'at+jwt' },
    algorithms: { type: 'string' },
  },
  async (values, positionals) => {
    required(values, 'jwks-uri', 'issuer', 'audience')
    if (positionals.length !== 1) throw new UsageError('one TOKEN expected')
    const JWKS = createRemoteJWKSet(new URL(values['jwks-uri']))
    const options = { issuer: values.issuer, audience: values.audience, typ: values.typ }
    if (values.algorithms !== undefined) options.algorithms = values.algorithms.split(',')
    const { payload, protectedHeader } = await jwtVerify(positionals[0], JWKS, options)
    return { payload, protectedHeader }
  },
)
