// Golden tests: each lesson model, loaded with PyTorch's parameters, gives PyTorch's
// log-probabilities, loss and gradients in training mode, and its eval-mode log-probabilities
// after that training pass (BnLayer reusing the statistics it stored), on the cpu and the wasm
// backends. Tolerance: numpy's allclose with rtol 1e-4 and atol 1e-5 for outputs and loss; for
// gradients, atol is 1e-4 of the largest element of that gradient, since float32 rounding
// accumulates through the deeper nets' backward passes (convbn2's conv1 gradient differs by up
// to ~3e-5 on wasm, where the largest element is ~0.8).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend/selectBackend';
import { nllLoss } from '../../src/learner/loss';
import { createModel, loadTorchState, torchWeightRefs } from '../../src/models';
import { assertClose } from '../helpers/assertClose';
import { readReference, referenceModels } from '../helpers/torchReference';

const TOLERANCE = { rtol: 1e-4, atol: 1e-5 };

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`PyTorch reference on ${backend}`, () => {
    for (const name of referenceModels()) {
      it(`${name} matches log-probs, loss, gradients and eval log-probs`, async () => {
        await selectBackend(backend, { log: null });
        const ref = readReference(name);
        const model = createModel(name);
        loadTorchState(model, ref.withPrefix('param:'));

        const refs = torchWeightRefs(model);
        const trainable = refs.map((r) => r.variable.read() as tf.Variable);
        const params = trainable.reduce((n, v) => n + v.size, 0);
        assert.equal(params, ref.paramsTotal, 'parameter count');

        const input = ref.arrays.get('input')!;
        const labels = ref.arrays.get('labels')!;
        const x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
        const y = tf.tensor1d(labels.data, 'int32');
        let logProbs: tf.Tensor | undefined;
        const { value: loss, grads } = tf.variableGrads(() => {
          logProbs = tf.keep(model.apply(x, { training: true }) as tf.Tensor);
          return nllLoss(logProbs, y);
        }, trainable);

        assertClose(await logProbs!.data(), ref.arrays.get('logprobs_train')!.data, {
          ...TOLERANCE,
          what: 'training log-probs',
        });
        assertClose([await loss.array()], [ref.loss], { ...TOLERANCE, what: 'loss' });
        for (const r of refs) {
          const grad = r.toTorch(grads[(r.variable.read() as tf.Variable).name]);
          const expected = ref.arrays.get(`grad:${r.torchName}`)!.data;
          const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          assertClose(await grad.data(), expected, {
            rtol: TOLERANCE.rtol,
            atol: Math.max(TOLERANCE.atol, 1e-4 * scale),
            what: `gradient of ${r.torchName}`,
          });
          grad.dispose();
        }

        const inputEval = ref.arrays.get('input_eval')!;
        const xEval = tf.tensor4d(
          inputEval.data,
          inputEval.shape as [number, number, number, number],
        );
        const evalLogProbs = model.predict(xEval) as tf.Tensor;
        assertClose(await evalLogProbs.data(), ref.arrays.get('logprobs_eval')!.data, {
          ...TOLERANCE,
          what: 'eval log-probs',
        });
        tf.dispose([x, y, xEval, evalLogProbs, logProbs!, loss, grads]);
        model.dispose();
      });
    }
  });
}
