"""How small.index / small.data-00000-of-00001 / expected.npz were written (TensorFlow 2.21,
tf.compat.v1 Saver, the checkpoint format of the authors' release). Needs TensorFlow; the tests
only read the files it wrote."""
import numpy as np
import tensorflow as tf

tf.compat.v1.disable_eager_execution()
rng = np.random.default_rng(0)
values = {"scope/kernel": rng.standard_normal((3, 3, 2, 4)).astype(np.float32),
          "scope/bias": rng.standard_normal(4).astype(np.float64),
          "step": np.int64(123456789012), "flag": np.array([True, False]),
          "a/long/name/shared/prefix/x": rng.standard_normal((5,)).astype(np.float32),
          "a/long/name/shared/prefix/y": np.arange(6, dtype=np.int32).reshape(2, 3)}
with tf.Graph().as_default():
    variables = [tf.compat.v1.Variable(v, name=k) for k, v in values.items()]
    saver = tf.compat.v1.train.Saver(variables)
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        saver.save(session, "small", write_meta_graph=False)
np.savez("expected.npz", **{k.replace("/", "__"): v for k, v in values.items()})
