/**
 * A minimal, safe pickle reader for dataset files (CIFAR's python archive): dicts, lists,
 * tuples, numbers, strings, bytes and numpy arrays, from protocols 2 to 5 as written by
 * Python 2's cPickle and by Python 3. It never runs code: a global reference becomes a
 * PickleGlobal value, and only the few reconstructors numpy and Python 3 use for arrays and
 * bytes are interpreted.
 */
import { DataError } from '../../common/errors';

export class PickleFormatError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = 'PickleFormatError';
  }
}

/** A reference to a Python global (`module.name`) that the reader does not interpret. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

export class PickleTuple {
  constructor(readonly items: PickleValue[]) {}
}

/** An object the reader does not know: its class, constructor arguments and BUILD state. */
export class PickleObject {
  state: PickleValue = null;
  constructor(
    readonly type: PickleGlobal,
    readonly args: PickleValue[],
  ) {}
}

/** numpy.dtype('u1') and friends: the type code and byte order. */
export class NumpyDtype {
  byteOrder = '|';
  constructor(readonly code: string) {}
}

/** A numpy array: shape, dtype code ('u1', 'i8', '<f4'...) and its raw C-order bytes. */
export class NumpyArray {
  shape: number[] = [];
  dtype = new NumpyDtype('u1');
  fortranOrder = false;
  data: Uint8Array = new Uint8Array(0);

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** The elements as numbers (integer and float dtypes, little-endian as numpy writes them on x86). */
  toNumbers(): number[] {
    const view = new DataView(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    const code = this.dtype.code.replace(/^[<>|=]/, '');
    const readers: Record<string, [number, (offset: number) => number]> = {
      u1: [1, (o) => view.getUint8(o)],
      i1: [1, (o) => view.getInt8(o)],
      u2: [2, (o) => view.getUint16(o, true)],
      i2: [2, (o) => view.getInt16(o, true)],
      u4: [4, (o) => view.getUint32(o, true)],
      i4: [4, (o) => view.getInt32(o, true)],
      i8: [8, (o) => Number(view.getBigInt64(o, true))],
      u8: [8, (o) => Number(view.getBigUint64(o, true))],
      f4: [4, (o) => view.getFloat32(o, true)],
      f8: [8, (o) => view.getFloat64(o, true)],
    };
    const reader = readers[code];
    if (!reader) throw new PickleFormatError(`numpy dtype "${this.dtype.code}" is not supported (expected one of ${Object.keys(readers).join(', ')})`);
    const [width, read] = reader;
    if (this.data.length !== this.size * width) throw new PickleFormatError(`numpy array of shape [${this.shape}] and dtype ${code} needs ${this.size * width} bytes, has ${this.data.length}`);
    return Array.from({ length: this.size }, (_, i) => read(i * width));
  }
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | Map<string, PickleValue>
  | PickleTuple
  | PickleGlobal
  | PickleObject
  | NumpyDtype
  | NumpyArray;

const MARK = Symbol('mark');
type StackEntry = PickleValue | typeof MARK;

/** Dict keys: text as it is; Python 2 str / bytes keys decoded as Latin-1 (how CIFAR's keys arrive). */
function dictKey(key: PickleValue): string {
  if (typeof key === 'string') return key;
  if (key instanceof Uint8Array) return Buffer.from(key).toString('latin1');
  if (typeof key === 'number' || typeof key === 'bigint') return String(key);
  throw new PickleFormatError(`dict keys must be strings, bytes or integers, got ${describe(key)}`);
}

function describe(value: StackEntry): string {
  if (value === MARK) return 'a MARK';
  if (value === null) return 'None';
  if (value instanceof Uint8Array) return `bytes[${value.length}]`;
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Map) return 'a dict';
  if (typeof value === 'object') return value.constructor.name;
  return typeof value;
}

const NUMPY_RECONSTRUCT = new Set(['numpy.core.multiarray._reconstruct', 'numpy._core.multiarray._reconstruct']);
const NUMPY_FROMBUFFER = new Set(['numpy.core.numeric._frombuffer', 'numpy._core.numeric._frombuffer']);

/** numpy's protocol-5 form: _frombuffer(buffer, dtype, shape, order). */
function arrayFromBuffer(items: PickleValue[]): NumpyArray {
  const [buffer, dtype, shape, order] = items;
  if (!(buffer instanceof Uint8Array) || !(dtype instanceof NumpyDtype) || !(shape instanceof PickleTuple)) {
    throw new PickleFormatError('numpy _frombuffer expects (bytes, dtype, shape tuple, order)');
  }
  const array = new NumpyArray();
  array.data = buffer;
  array.dtype = dtype;
  array.shape = shape.items.map((n) => Number(n));
  array.fortranOrder = order === 'F';
  return array;
}

/** What REDUCE produces for the few callables pickles of arrays and bytes rely on. */
function reduce(callable: PickleValue, args: PickleValue): PickleValue {
  if (!(callable instanceof PickleGlobal)) throw new PickleFormatError(`REDUCE expects a global callable, got ${describe(callable)}`);
  const items = args instanceof PickleTuple ? args.items : [];
  const name = callable.qualified;
  if (name === '_codecs.encode' && typeof items[0] === 'string') {
    // Python 3 writes bytes into protocol-2 pickles as _codecs.encode(text, 'latin1').
    return Buffer.from(items[0], 'latin1');
  }
  if (NUMPY_RECONSTRUCT.has(name)) return new NumpyArray();
  if (NUMPY_FROMBUFFER.has(name)) return arrayFromBuffer(items);
  if (name === 'numpy.dtype' && typeof items[0] === 'string') return new NumpyDtype(items[0]);
  return new PickleObject(callable, items);
}

/** numpy's __setstate__: (version, shape, dtype, is_fortran, raw bytes). */
function buildArray(array: NumpyArray, state: PickleValue): void {
  if (!(state instanceof PickleTuple) || state.items.length < 5) throw new PickleFormatError(`numpy array state should be a 5-tuple, got ${describe(state)}`);
  const [, shape, dtype, fortran, raw] = state.items;
  if (!(shape instanceof PickleTuple)) throw new PickleFormatError('numpy array shape should be a tuple');
  array.shape = shape.items.map((n) => Number(n));
  if (dtype instanceof NumpyDtype) array.dtype = dtype;
  array.fortranOrder = fortran === true;
  if (raw instanceof Uint8Array) array.data = raw;
  else if (typeof raw === 'string') array.data = Buffer.from(raw, 'latin1');
  else throw new PickleFormatError(`numpy array data should be bytes, got ${describe(raw)} (object arrays are not supported)`);
}

function build(target: PickleValue, state: PickleValue): void {
  if (target instanceof NumpyArray) buildArray(target, state);
  else if (target instanceof NumpyDtype) {
    if (state instanceof PickleTuple && typeof state.items[1] === 'string') target.byteOrder = state.items[1];
  } else if (target instanceof PickleObject) target.state = state;
  else throw new PickleFormatError(`BUILD on ${describe(target)} is not supported`);
}

/** Reads one pickled value. Throws PickleFormatError naming the opcode and offset it cannot read. */
export function readPickle(bytes: Uint8Array): PickleValue {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: StackEntry[] = [];
  const memo = new Map<number, PickleValue>();
  let at = 0;

  const need = (n: number): void => {
    if (at + n > data.length) throw new PickleFormatError(`the pickle ends early: needed ${n} more bytes at offset ${at} of ${data.length}`);
  };
  const u8 = (): number => (need(1), data[at++]!);
  const u16 = (): number => (need(2), (at += 2), data.readUInt16LE(at - 2));
  const u32 = (): number => (need(4), (at += 4), data.readUInt32LE(at - 4));
  const i32 = (): number => (need(4), (at += 4), data.readInt32LE(at - 4));
  const u64 = (): number => (need(8), (at += 8), Number(data.readBigUInt64LE(at - 8)));
  const take = (n: number): Buffer => (need(n), (at += n), data.subarray(at - n, at));
  const line = (): string => {
    const end = data.indexOf(0x0a, at);
    if (end < 0) throw new PickleFormatError(`expected a newline-terminated argument at offset ${at}`);
    const text = data.toString('latin1', at, end);
    at = end + 1;
    return text;
  };
  const pop = (): PickleValue => {
    const value = stack.pop();
    if (value === undefined || value === MARK) throw new PickleFormatError(`expected a value on the stack at offset ${at}, got ${value === MARK ? 'a MARK' : 'nothing'}`);
    return value;
  };
  const popToMark = (): PickleValue[] => {
    const mark = stack.lastIndexOf(MARK);
    if (mark < 0) throw new PickleFormatError(`expected a MARK on the stack at offset ${at}`);
    const items = stack.splice(mark) as PickleValue[];
    items.shift();
    return items;
  };
  const top = (): PickleValue => {
    const value = stack[stack.length - 1];
    if (value === undefined || value === MARK) throw new PickleFormatError(`expected a value on the stack at offset ${at}`);
    return value;
  };
  const setItems = (target: PickleValue, pairs: PickleValue[]): void => {
    if (!(target instanceof Map)) throw new PickleFormatError(`SETITEM(S) expects a dict, got ${describe(target)}`);
    for (let i = 0; i + 1 < pairs.length; i += 2) target.set(dictKey(pairs[i]!), pairs[i + 1]!);
  };
  const append = (target: PickleValue, items: PickleValue[]): void => {
    if (!Array.isArray(target)) throw new PickleFormatError(`APPEND(S) expects a list, got ${describe(target)}`);
    for (const item of items) target.push(item);
  };
  const memoGet = (index: number): PickleValue => {
    if (!memo.has(index)) throw new PickleFormatError(`memo entry ${index} is used before it is set (offset ${at})`);
    return memo.get(index)!;
  };

  for (;;) {
    const offset = at;
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: take(8); break; // FRAME: length only, frames are read inline
      case 0x2e: return pop(); // STOP
      case 0x28: stack.push(MARK); break; // MARK
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(new PickleTuple([])); break; // EMPTY_TUPLE
      case 0x74: stack.push(new PickleTuple(popToMark())); break; // TUPLE
      case 0x85: stack.push(new PickleTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(new PickleTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(new PickleTuple([a, b, c])); break; } // TUPLE3
      case 0x6c: stack.push(popToMark()); break; // LIST
      case 0x64: { const dict = new Map<string, PickleValue>(); setItems(dict, popToMark()); stack.push(dict); break; } // DICT
      case 0x61: { const item = pop(); append(top(), [item]); break; } // APPEND
      case 0x65: { const items = popToMark(); append(top(), items); break; } // APPENDS
      case 0x73: { const value = pop(); const key = pop(); setItems(top(), [key, value]); break; } // SETITEM
      case 0x75: { const pairs = popToMark(); setItems(top(), pairs); break; } // SETITEMS
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x70: memo.set(Number(line()), top()); break; // PUT
      case 0x68: stack.push(memoGet(u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
      case 0x67: stack.push(memoGet(Number(line()))); break; // GET
      case 0x30: pop(); break; // POP
      case 0x31: popToMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x49: { const text = line(); stack.push(text === '01' ? true : text === '00' ? false : Number(text)); break; } // INT
      case 0x4c: stack.push(Number(line().replace(/L$/, ''))); break; // LONG (text)
      case 0x8a: { // LONG1: little-endian two's complement
        const digits = take(u8());
        let value = 0n;
        for (let i = digits.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(digits[i]!);
        if (digits.length > 0 && digits[digits.length - 1]! & 0x80) value -= 1n << BigInt(8 * digits.length);
        stack.push(value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value);
        break;
      }
      case 0x47: stack.push((need(8), (at += 8), data.readDoubleBE(at - 8))); break; // BINFLOAT
      case 0x55: stack.push(Buffer.from(take(u8()))); break; // SHORT_BINSTRING (Python 2 str)
      case 0x54: stack.push(Buffer.from(take(u32()))); break; // BINSTRING
      case 0x43: stack.push(Buffer.from(take(u8()))); break; // SHORT_BINBYTES
      case 0x42: stack.push(Buffer.from(take(u32()))); break; // BINBYTES
      case 0x8e: stack.push(Buffer.from(take(u64()))); break; // BINBYTES8
      case 0x96: stack.push(Buffer.from(take(u64()))); break; // BYTEARRAY8
      case 0x8c: stack.push(take(u8()).toString('utf8')); break; // SHORT_BINUNICODE
      case 0x58: stack.push(take(u32()).toString('utf8')); break; // BINUNICODE
      case 0x8d: stack.push(take(u64()).toString('utf8')); break; // BINUNICODE8
      case 0x63: { const module = line(); stack.push(new PickleGlobal(module, line())); break; } // GLOBAL
      case 0x93: { const name = pop(); const module = pop(); stack.push(new PickleGlobal(String(module), String(name))); break; } // STACK_GLOBAL
      case 0x52: { const args = pop(); const callable = pop(); stack.push(reduce(callable, args)); break; } // REDUCE
      case 0x81: { // NEWOBJ
        const args = pop();
        const type = pop();
        if (!(type instanceof PickleGlobal)) throw new PickleFormatError(`NEWOBJ expects a class, got ${describe(type)}`);
        stack.push(new PickleObject(type, args instanceof PickleTuple ? args.items : []));
        break;
      }
      case 0x62: { const state = pop(); build(top(), state); break; } // BUILD
      default:
        throw new PickleFormatError(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at offset ${offset} (this reader handles dicts, lists, numbers, strings, bytes and numpy arrays)`);
    }
  }
}

/** The dict at the top of a pickle (CIFAR's batches and meta are dicts). */
export function readPickleDict(bytes: Uint8Array, what: string): Map<string, PickleValue> {
  const value = readPickle(bytes);
  if (!(value instanceof Map)) throw new PickleFormatError(`${what} should hold a pickled dict, got ${describe(value)}`);
  return value;
}
