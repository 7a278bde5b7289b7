/**
 * Builds the optional OpenBLAS addon (native/gemm/gemm.c → native/gemm/build/sage_gemm.node) that
 * runs the wasm backend's matrix products (src/clip/native-matmul.ts): `npm run native`, and
 * `npm ci` tries it as part of the prepare step (`--optional`: a machine without a C compiler or
 * OpenBLAS's headers keeps wasm's own kernels and is told how to get these).
 *
 * Why not node-gyp: the addon is one C file against Node-API, whose header ships with every Node
 * install (include/node); node-gyp would fetch Node's full header tarball from nodejs.org, which
 * a machine without internet cannot. A single `cc` line needs nothing but the compiler and
 * OpenBLAS (Debian/Ubuntu: `apt-get install libopenblas-dev`; macOS: `brew install openblas`).
 *
 * The built file is loaded and checked on a small product in a child process before it replaces
 * the old one (written beside it, then renamed), so a broken build never becomes the one in use.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'native', 'gemm', 'gemm.c');
const target = path.join(root, 'native', 'gemm', 'build', 'sage_gemm.node');

/** Where OpenBLAS's cblas.h may be: SAGE_CBLAS_INCLUDE first, then Debian's, Fedora's and Homebrew's folders. */
function cblasIncludes(env: NodeJS.ProcessEnv): string[] {
  const arch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return [
    env.SAGE_CBLAS_INCLUDE,
    `/usr/include/${arch}/openblas-pthread`,
    `/usr/include/${arch}/openblas-openmp`,
    `/usr/include/${arch}/openblas-serial`,
    '/usr/include/openblas',
    '/opt/homebrew/opt/openblas/include',
    '/usr/local/opt/openblas/include',
  ].filter((dir): dir is string => Boolean(dir) && existsSync(path.join(dir!, 'cblas.h')));
}

function nodeApiInclude(env: NodeJS.ProcessEnv): string | undefined {
  const candidates = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), env.npm_config_nodedir && path.join(env.npm_config_nodedir, 'include', 'node')];
  return candidates.find((dir): dir is string => Boolean(dir) && existsSync(path.join(dir!, 'node_api.h')));
}

/** The product [[1,2],[3,4]]·[[5,6],[7,8]] = [[19,22],[43,50]] through the addon, in a fresh process. */
function check(file: string): void {
  const script = `const g = require(${JSON.stringify(file)}); const h = new Float32Array(12); h.set([1,2,3,4,5,6,7,8]);
g.multiply(h, 0, 4, 8, 1, 1, 1, 2, 2, 2, 0, 0, 0);
if (h.slice(8).join() !== '19,22,43,50') throw new Error('wrong product ' + h.slice(8).join());
process.stdout.write(g.library.split(' ').slice(0, 2).join(' ') + ', ' + ['serial', 'pthreads', 'OpenMP'][g.parallel] + ' build, ' + g.core + ' kernels');`;
  const line = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  console.log(`native matrix products: built ${path.relative(root, target)} (${line})`);
}

async function main(): Promise<void> {
  const optional = process.argv.includes('--optional');
  const refuse = (why: string): never => {
    if (optional) {
      console.log(`native matrix products: not built (${why}); training on the CPU uses wasm's own matrix kernels, a ViT-B/16 step 3-4× slower. \`npm run native\` builds them later.`);
      process.exit(0);
    }
    console.error(`npm run native: ${why}`);
    process.exit(1);
  };
  if (process.env.SAGE_SKIP_NATIVE === '1') refuse('SAGE_SKIP_NATIVE=1');
  const includes = cblasIncludes(process.env);
  if (includes.length === 0) refuse("OpenBLAS's cblas.h was not found: install libopenblas-dev (Debian/Ubuntu) or openblas (Homebrew), or set SAGE_CBLAS_INCLUDE");
  const nodeApi = nodeApiInclude(process.env);
  if (!nodeApi) refuse(`Node-API's node_api.h was not found beside ${process.execPath}`);
  // The library of the variant whose header is used (Debian: /usr/lib/<arch>/openblas-pthread beside
  // /usr/include/<arch>/openblas-pthread; Homebrew: <prefix>/lib), so -lopenblas is not whatever the
  // alternatives system points at (a serial build without locking is unsafe for concurrent replicas).
  const include = includes[0]!;
  const libDirs = [include.replace('/include/', '/lib/'), path.join(path.dirname(include), 'lib')].filter((dir) => dir !== include && existsSync(dir) && existsSync(path.join(dir, process.platform === 'darwin' ? 'libopenblas.dylib' : 'libopenblas.so')));
  const temporary = target.replace(/\.node$/, `.${process.pid}.tmp.node`);
  const args = [
    '-shared',
    '-fPIC',
    '-O2',
    '-std=c11',
    '-Wall',
    `-I${nodeApi}`,
    `-I${include}`,
    source,
    '-o',
    temporary,
    ...libDirs.flatMap((dir) => [`-L${dir}`, `-Wl,-rpath,${dir}`]),
    '-lopenblas',
    // Node-API's symbols come from the node binary itself when the addon is loaded.
    ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : []),
  ];
  // CC may carry arguments ("ccache gcc", "gcc -m64").
  const [compiler, ...compilerArgs] = (process.env.CC || 'cc').trim().split(/\s+/);
  try {
    await mkdir(path.dirname(target), { recursive: true });
    execFileSync(compiler!, [...compilerArgs, ...args], { stdio: ['ignore', 'inherit', 'pipe'], timeout: 120_000 });
    check(temporary);
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(0, 3).join(' | ');
    refuse(`${(error as Error).message.split('\n')[0]}${stderr ? `: ${stderr}` : ''}`);
  }
}

void main();
