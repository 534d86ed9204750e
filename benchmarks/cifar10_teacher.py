"""A CIFAR-10 teacher for distillation: a ReLU ResNet on the package's images.

``nengo-softlif train --teacher MODEL.keras`` learns a Keras model's answers on
every training image (see the training options guide). The more accurate the
teacher, the more the paper's small soft LIF network can learn from it. This
script trains such a teacher, a ResNet (He et al. 2016, the CIFAR-10 variant: a
3x3 convolution, three stages of ``--blocks`` residual blocks of ``--width``,
twice and four times as many channels, batch normalization and ReLU, global
average pooling, a dense read-out of logits) on the images exactly as ``train
--task cifar10`` prepares them: 24x24 random crops and flips of the training
images, redrawn every epoch, the mean training image subtracted; centre crops
for testing.

Training: SGD with Nesterov momentum 0.9, minibatch 128, a linear warm-up of
one epoch to ``--lr`` then a cosine decay to 0 over ``--epochs``, L2 weight
decay ``--weight-decay`` on the kernels. After every epoch ``OUT/teacher.keras``
(the model with its optimizer state, written atomically) and ``OUT/state.json``
(the epoch, the history); the same command resumes from them, and
``--epochs-this-run`` stops after that many epochs (training in chunks). Every
epoch's augmentation and minibatch order come from ``(--seed, epoch)``, so a
resumed run draws what an uninterrupted one would. At the end of every run the
error on all test images is printed and written to ``OUT/results.md``.

Example::

    python benchmarks/cifar10_teacher.py --data-dir DATA/cifar10 \\
        --cache-dir CACHE --out runs/cifar10-teacher --epochs 100 \\
        --epochs-this-run 10
    nengo-softlif train --task cifar10 --data-dir DATA/cifar10 --cache-dir CACHE \\
        --out runs/cifar10-distilled --init-from pretrained --lr 7.5e-5 \\
        --recipe sgd-hard --noise gaussian:10 \\
        --teacher runs/cifar10-teacher/teacher.keras --epochs 40
"""

import argparse
import json
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from nengo_softlif.atomic import atomic_write_bytes

import _common

MINIBATCH = 128


def resnet(tf, input_shape, width, blocks, weight_decay, n_classes=10):
    """The CIFAR-10 ResNet with ``3 * blocks`` residual blocks (``6 * blocks + 2``
    layers), reading images of ``input_shape`` and giving logits."""
    layers = tf.keras.layers
    l2 = tf.keras.regularizers.L2(weight_decay / 2)  # decay = gradient w * wd

    def conv(x, channels, size=3, stride=1):
        x = layers.Conv2D(
            channels,
            size,
            strides=stride,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
            kernel_regularizer=l2,
        )(x)
        return layers.BatchNormalization()(x)

    x = inputs = tf.keras.Input(input_shape, name="image")
    x = layers.ReLU()(conv(x, width))
    for stage in range(3):
        channels = width * 2**stage
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            y = conv(layers.ReLU()(conv(x, channels, stride=stride)), channels)
            if stride != 1 or x.shape[-1] != channels:
                x = conv(x, channels, size=1, stride=stride)
            x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(n_classes, kernel_regularizer=l2, name="logits")(x)
    return tf.keras.Model(inputs, outputs, name=f"resnet{6 * blocks + 2}x{width}")


def learning_rate(step, steps_per_epoch, epochs, peak):
    """One epoch of linear warm-up to ``peak``, then a cosine decay to 0."""
    warmup = steps_per_epoch
    if step < warmup:
        return peak * (step + 1) / warmup
    done = (step - warmup) / max(1, epochs * steps_per_epoch - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))


def _load_or_build(tf, args, input_shape, state_path, model_path):
    if os.path.exists(state_path):
        with open(state_path, encoding="utf-8") as f:
            state = json.load(f)
        settings = {k: getattr(args, k) for k in state["settings"]}
        if settings != state["settings"]:
            raise SystemExit(
                f"{args.out} holds a run with {state['settings']}, not {settings}: "
                "give the same options to resume it, or another --out"
            )
        return tf.keras.models.load_model(model_path), state
    tf.keras.utils.set_random_seed(args.seed)
    model = resnet(tf, input_shape, args.width, args.blocks, args.weight_decay)
    model.compile(
        optimizer=tf.keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True)
    )
    settings = {
        k: getattr(args, k)
        for k in (
            "width",
            "blocks",
            "lr",
            "weight_decay",
            "epochs",
            "seed",
            "train_images",
        )
    }
    return model, {"epoch": 0, "settings": settings, "history": []}


def _save(model, state, model_path, state_path):
    tmp = model_path[: -len(".keras")] + ".partial.keras"
    model.save(tmp)
    os.replace(tmp, model_path)
    atomic_write_bytes(state_path, json.dumps(state, indent=1).encode())


def _step_function(tf, model):
    optimizer = model.optimizer
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y, lr):
        optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits) + tf.add_n(model.losses)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        correct = tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(logits, -1, output_type=y.dtype), y), "float32")
        )
        return loss, correct

    return step


def _epoch(tf, step, train, epoch, args, shape):
    """Train one epoch; its augmentation and order come from (seed, epoch)."""
    rng = np.random.default_rng([args.seed, epoch])
    images, labels = train(epoch, rng)
    images = images.reshape((-1, *shape))
    order = rng.permutation(len(labels))
    steps = len(labels) // MINIBATCH
    losses, correct = [], 0.0
    for i in range(steps):
        index = order[i * MINIBATCH : (i + 1) * MINIBATCH]
        lr = learning_rate(epoch * steps + i, steps, args.epochs, args.lr)
        loss, right = step(
            images[index], labels[index].astype("int32"), tf.constant(lr, "float32")
        )
        losses.append(float(loss))
        correct += float(right)
    return float(np.mean(losses)), correct / (steps * MINIBATCH), lr


def _test_error(model, images, labels, shape):
    logits = model.predict(images.reshape((-1, *shape)), batch_size=500, verbose=0)
    return float(np.mean(logits.argmax(-1) != labels))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cache-dir")
    parser.add_argument("--out", required=True, help="folder of the run")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--epochs-this-run", type=int, help="default: all")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-images", type=int, help="default: all")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from nengo_softlif.data import load_dataset
    from nengo_softlif.experiments.tasks import get_task

    task = get_task("cifar10")
    dataset = load_dataset("cifar10", args.data_dir, cache_dir=args.cache_dir)
    if args.train_images:
        dataset = dataset.subset(n_train=args.train_images)
    train, test_images, test_labels = task.training_data(dataset)
    shape = task.input_shape(dataset)
    os.makedirs(args.out, exist_ok=True)
    model_path = os.path.join(args.out, "teacher.keras")
    state_path = os.path.join(args.out, "state.json")
    model, state = _load_or_build(tf, args, shape, state_path, model_path)
    step = _step_function(tf, model)
    last = args.epochs
    if args.epochs_this_run:
        last = min(last, state["epoch"] + args.epochs_this_run)
    print(f"{model.name}: {model.count_params()} parameters", flush=True)
    for epoch in range(state["epoch"], last):
        start = time.time()
        loss, accuracy, lr = _epoch(tf, step, train, epoch, args, shape)
        entry = {
            "epoch": epoch + 1,
            "loss": loss,
            "accuracy": accuracy,
            "lr": lr,
            "seconds": time.time() - start,
        }
        state["history"].append(entry)
        state["epoch"] = epoch + 1
        _save(model, state, model_path, state_path)
        print(
            f"epoch {epoch + 1:>3}/{args.epochs}  loss {loss:.4f}  accuracy "
            f"{accuracy:.4f}  lr {lr:.2e}  {entry['seconds']:.0f} s",
            flush=True,
        )
    error = _test_error(model, test_images, test_labels, shape)
    line = (
        f"{model.name} ({model.count_params()} parameters), epoch {state['epoch']} "
        f"of {args.epochs}: test error {error * 100:.2f}% on all "
        f"{len(test_labels)} test images"
    )
    print(line, flush=True)
    _common.write_results(
        args.out, line + "\n", {"epoch": state["epoch"], "test_error": error}
    )


if __name__ == "__main__":
    main()
