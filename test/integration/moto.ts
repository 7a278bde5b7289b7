/**
 * The AWS emulator for integration tests: moto_server started on a free loopback port and
 * stopped afterwards, or any endpoint given in AWS_ENDPOINT_URL (LocalStack, a shared
 * moto). Configured for Batch and Lambda without Docker (SPEC section 4).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface Emulator {
  endpoint: string;
  /** Stops the server this harness started; a no-op for an external endpoint. */
  stop(): Promise<void>;
}

/** Why the integration tests cannot run here, or null when they can. */
export function emulatorUnavailableReason(): string | null {
  if (process.env.AWS_ENDPOINT_URL) return null;
  const found = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' });
  if (found.status !== 0 || !found.stdout.trim()) {
    return 'moto_server is not installed (pip install "moto[server]") and AWS_ENDPOINT_URL is not set: skipping the AWS integration tests';
  }
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForServer(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode} before answering at ${endpoint}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`moto_server did not answer at ${endpoint} within ${timeoutMs} ms`);
}

/** Batch jobs and Lambda functions without Docker: SubmitJob works, code never runs. */
export async function configureMoto(endpoint: string): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ batch: { use_docker: false }, lambda: { use_docker: false } }),
  });
  if (!response.ok) throw new Error(`configuring moto failed: HTTP ${response.status} ${await response.text()}`);
}

export async function startEmulator(): Promise<Emulator> {
  const external = process.env.AWS_ENDPOINT_URL;
  if (external) {
    await configureMoto(external).catch(() => undefined); // LocalStack has no moto-api
    return { endpoint: external, stop: async () => {} };
  }
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  await waitForServer(endpoint, child, 30_000);
  await configureMoto(endpoint);
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Points every SDK client and storeFor at the emulator with dummy credentials. */
export function useEmulatorEnvironment(endpoint: string): void {
  process.env.AWS_ENDPOINT_URL = endpoint;
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
}

/** One AWS JSON-protocol call (services whose SDK client the project does not install: SSM, EventBridge). */
export async function awsJsonCall<T>(endpoint: string, service: string, target: string, body: unknown): Promise<T> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': target,
      // moto routes by the credential scope's service and region; it does not check the signature.
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${target} failed: HTTP ${response.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}
