const UTF8 = new TextEncoder();

/** Bytes written one after another into one growing buffer, numbers little endian (as Explicit VR LE needs). */
export class ByteSink {
  private buffer: Uint8Array;
  private view: DataView;
  private size = 0;

  constructor(initialCapacity = 64 * 1024) {
    this.buffer = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buffer.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.size;
  }

  /** What was written, without a copy: a view valid until the next write. */
  written(): Uint8Array {
    return this.buffer.subarray(0, this.size);
  }

  uint16(value: number): void {
    this.reserve(2);
    this.view.setUint16(this.size, value, true);
    this.size += 2;
  }

  uint32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.size, value, true);
    this.size += 4;
  }

  int16(value: number): void {
    this.reserve(2);
    this.view.setInt16(this.size, value, true);
    this.size += 2;
  }

  int32(value: number): void {
    this.reserve(4);
    this.view.setInt32(this.size, value, true);
    this.size += 4;
  }

  float32(value: number): void {
    this.reserve(4);
    this.view.setFloat32(this.size, value, true);
    this.size += 4;
  }

  float64(value: number): void {
    this.reserve(8);
    this.view.setFloat64(this.size, value, true);
    this.size += 8;
  }

  /** One byte per UTF-16 code unit, its low 8 bits: text known to be ASCII (VRs such as UI, CS, DS). */
  latin1(text: string): void {
    this.reserve(text.length);
    for (let i = 0; i < text.length; i++) this.buffer[this.size + i] = text.charCodeAt(i) & 0xff;
    this.size += text.length;
  }

  utf8(text: string): void {
    this.bytes(UTF8.encode(text));
  }

  bytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.size);
    this.size += bytes.length;
  }

  /** Writes a 16- or 32-bit value at an earlier position (a length known only once its value is written). */
  patchUint16(at: number, value: number): void {
    this.view.setUint16(at, value, true);
  }

  patchUint32(at: number, value: number): void {
    this.view.setUint32(at, value, true);
  }

  private reserve(count: number): void {
    if (this.size + count <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.size + count) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.size));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }
}
