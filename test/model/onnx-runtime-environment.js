// Jest's node environment runs each test file in its own realm, but onnxruntime-node's native binding
// makes output arrays in the main realm, and onnxruntime-common then refuses them with "A float32 tensor's
// data must be type of function Float32Array()" (microsoft/onnxruntime#16622). Jest already shares
// ArrayBuffer and Uint8Array with the main realm; this shares the other typed arrays too.
// Use with a `@jest-environment ./test/model/onnx-runtime-environment.js` docblock in tests that run a session.
const { TestEnvironment } = require('jest-environment-node');

const TYPED_ARRAYS = [
  'Int8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class OnnxRuntimeEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of TYPED_ARRAYS) this.global[name] = globalThis[name];
  }
}

module.exports = OnnxRuntimeEnvironment;
