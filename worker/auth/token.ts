import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  SignJWT,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import { ROLES, type Env, type Principal, type Role } from "../env.ts";
import { hmacKeyOf } from "./hmac-key.ts";
import { DomainError, fail } from "../domain/errors.ts";

/**
 * Bearer tokens: HS256 with our own secret, or RS256/ES256 from an identity provider's keys. The
 * algorithm list is pinned per key source, so a token cannot pick its own verification (no `none`,
 * no HS256 signed with a public key).
 */
const ASYMMETRIC = ["RS256", "ES256"];
const remoteKeySets = new Map<string, JWTVerifyGetKey>();
const localKeySets = new Map<string, JWTVerifyGetKey>();

function keySetFor(env: Env): JWTVerifyGetKey | null {
  if (env.JWT_JWKS) {
    let set = localKeySets.get(env.JWT_JWKS);
    if (!set) {
      set = createLocalJWKSet(JSON.parse(env.JWT_JWKS));
      localKeySets.set(env.JWT_JWKS, set);
    }
    return set;
  }
  if (env.JWT_JWKS_URL) {
    // Module scope keeps the fetched keys (and jose's cooldown) across requests in an isolate.
    let set = remoteKeySets.get(env.JWT_JWKS_URL);
    if (!set) {
      set = createRemoteJWKSet(new URL(env.JWT_JWKS_URL), { timeoutDuration: 5000, cooldownDuration: 30_000 });
      remoteKeySets.set(env.JWT_JWKS_URL, set);
    }
    return set;
  }
  return null;
}

export function hmacKey(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/**
 * Verified tokens, remembered until they expire: a front end sends the same token with every
 * request, and re-verifying it each time is pure cost. Bounded, and keyed by the whole token, so
 * nothing about a token can change while it is remembered.
 */
const VERIFIED_MAX = 2000;
const verified = new Map<string, { principal: Principal; exp: number; config: string }>();

export async function verifyBearer(token: string, env: Env): Promise<Principal> {
  // A rotated secret or key set invalidates what was remembered under the old one.
  const config = `${env.JWT_ISSUER}|${env.JWT_AUDIENCE}|${env.JWT_SECRET ?? ""}|${env.JWT_JWKS_URL ?? ""}|${env.JWT_JWKS ?? ""}`;
  const hit = verified.get(token);
  if (hit && hit.config === config && hit.exp * 1000 > Date.now()) return hit.principal;
  const principal = await verifyUncached(token, env);
  const exp = decodeExp(token);
  if (exp !== null) {
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
    verified.set(token, { principal, exp, config });
  }
  return principal;
}

function decodeExp(token: string): number | null {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof payload.exp === "number" ? payload.exp : null;
  } catch {
    return null;
  }
}

async function verifyUncached(token: string, env: Env): Promise<Principal> {
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw fail.unauthorized("the bearer token is not a JWS compact serialization");
  }
  const options = { issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE, requiredClaims: ["exp", "sub"], clockTolerance: 5 };
  let payload: JWTPayload;
  try {
    if (alg === "HS256") {
      if (!env.JWT_SECRET) throw fail.unauthorized("HS256 tokens are not accepted by this deployment");
      ({ payload } = await jwtVerify(token, await hmacKeyOf(env.JWT_SECRET), { ...options, algorithms: ["HS256"] }));
    } else if (alg && ASYMMETRIC.includes(alg)) {
      const keys = keySetFor(env);
      if (!keys) throw fail.unauthorized(`${alg} tokens are not accepted: no identity provider keys are configured`);
      ({ payload } = await jwtVerify(token, keys, { ...options, algorithms: ASYMMETRIC }));
    } else {
      throw fail.unauthorized(`tokens signed with alg "${alg}" are not accepted (HS256, RS256, ES256 are)`);
    }
  } catch (err) {
    throw toUnauthorized(err);
  }
  return principalFrom(payload);
}

function toUnauthorized(err: unknown) {
  if (err instanceof errors.JWTExpired) return fail.unauthorized("the token has expired");
  if (err instanceof errors.JWTClaimValidationFailed) {
    return fail.unauthorized(`the token's "${err.claim}" claim is not acceptable: ${err.reason}`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return fail.unauthorized("the token's signature does not verify");
  if (err instanceof errors.JWKSNoMatchingKey) return fail.unauthorized("no identity provider key matches the token");
  if (err instanceof errors.JOSEError) return fail.unauthorized(`the token is not valid (${err.code})`);
  if (err instanceof DomainError) return err;
  return fail.unauthorized("the token could not be verified");
}

function principalFrom(payload: JWTPayload): Principal {
  const role = payload.role;
  if (typeof role !== "string" || !(ROLES as readonly string[]).includes(role)) {
    throw fail.unauthorized(`the token's "role" claim must be one of ${ROLES.join(", ")}`);
  }
  const projects = payload.projects ?? [];
  if (!Array.isArray(projects) || !projects.every((p) => typeof p === "string")) {
    throw fail.unauthorized(`the token's "projects" claim must be an array of project ids`);
  }
  const studies = payload.studies ?? [];
  if (!Array.isArray(studies) || !studies.every((p) => typeof p === "string")) {
    throw fail.unauthorized(`the token's "studies" claim must be an array of study ids`);
  }
  if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 200) {
    throw fail.unauthorized(`the token's "sub" claim must be a non-empty string of at most 200 characters`);
  }
  return { subject: payload.sub, role: role as Role, projects, ...(studies.length ? { studies } : {}) };
}

export interface MintOptions {
  secret: string;
  subject: string;
  role: Role;
  projects: string[];
  issuer: string;
  audience: string;
  ttlSeconds?: number;
  studies?: string[];
}

/** Self-issued HS256 tokens, for development, tests and service accounts. */
export async function mintToken(o: MintOptions): Promise<string> {
  return new SignJWT({ role: o.role, projects: o.projects, ...(o.studies ? { studies: o.studies } : {}) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(o.subject)
    .setIssuer(o.issuer)
    .setAudience(o.audience)
    .setIssuedAt()
    .setExpirationTime(`${o.ttlSeconds ?? 3600}s`)
    .sign(hmacKey(o.secret));
}
