"""The paper's two tasks: which data, preprocessing, network, neurons and read-out.

A :class:`Task` ties a data set to the architecture, neuron preset,
preprocessing and spiking protocol that the papers used for it, so that the CLI,
the benchmarks and the notebooks all run the same pipeline.
"""

import dataclasses
from collections.abc import Callable

import numpy as np

from nengo_softlif.data import preprocess
from nengo_softlif.evaluation.runner import Protocol
from nengo_softlif.network.architectures import cifar10_architecture, mnist_architecture
from nengo_softlif.training.loop import ArrayData

__all__ = ["Task", "TASKS", "get_task"]


@dataclasses.dataclass(frozen=True)
class Task:
    """A data set with the paper's network, neurons, preprocessing and protocol.

    Parameters
    ----------
    name : str
    architecture : callable
        ``architecture(n_classes) -> Architecture``.
    preset : str
        Neuron preset (:data:`nengo_softlif.PRESETS`).
    crop : int or None
        Side of the random (training) and centre (test) crops.
    flip : bool
        Random horizontal flips in training.
    subtract_mean : bool
        Subtract the training set's mean image.
    protocol : `.Protocol`
        Spiking presentation and read-out window.
    any_channels : bool
        Give the network as many input channels as the data set's images have
        (for data sets other than the paper's).
    """

    name: str
    architecture: Callable
    preset: str
    crop: int | None = None
    flip: bool = False
    subtract_mean: bool = False
    protocol: Protocol = Protocol()
    any_channels: bool = False

    def mean_image(self, dataset):
        """The mean training image subtracted from inputs (None if not subtracted).

        Taken over ``dataset``'s training images (centre-cropped), on a 0-1 scale.
        """
        if not self.subtract_mean:
            return None
        train = preprocess.to_float(dataset.train_images)
        if self.crop:
            train = preprocess.center_crop(train, self.crop)
        return preprocess.mean_image(train)

    def preprocessor(self, dataset, mean_image=None):
        """``(augment, prepare_test)`` functions for a loaded `.Dataset`.

        ``mean_image`` is the mean image to subtract (a checkpoint's stored one,
        see :meth:`test_data`); by default it is taken over ``dataset``'s
        training images.
        """
        mean = 0.0
        if self.subtract_mean:
            mean = self.mean_image(dataset) if mean_image is None else mean_image

        def augment(images, rng):
            images = preprocess.to_float(images)
            if self.crop or self.flip:
                images = preprocess.random_crop_flip(
                    images, self.crop, rng, flip=self.flip
                )
            return images - mean

        def prepare_test(images):
            images = preprocess.to_float(images)
            if self.crop:
                images = preprocess.center_crop(images, self.crop)
            return images - mean

        return augment, prepare_test

    def training_data(self, dataset):
        """Training data (re-augmented every epoch) and prepared test images.

        The training data carries the mean image and the class names, which
        `.train` saves with every checkpoint.

        Returns
        -------
        train : `.ArrayData`
        test_images : ndarray (float32)
        test_labels : ndarray (int)
        """
        mean = self.mean_image(dataset)
        augment, prepare_test = self.preprocessor(dataset, mean)
        needs_augment = self.crop is not None or self.flip
        train = ArrayData(
            (
                dataset.train_images
                if needs_augment
                else augment(dataset.train_images, None)
            ),
            dataset.train_labels,
            augment=augment if needs_augment else None,
            preprocessing={} if mean is None else {"mean_image": mean},
            classes=dataset.classes,
        )
        return train, prepare_test(dataset.test_images), dataset.test_labels

    def input_shape(self, dataset):
        """Shape ``(height, width, channels)`` of ``dataset``'s prepared images."""
        height, width, channels = dataset.test_images.shape[1:]
        if self.crop:
            height = width = self.crop
        return (height, width, channels)

    def test_data(self, dataset, mean_image=None):
        """Prepared test images and their labels.

        Parameters
        ----------
        dataset : `.Dataset`
        mean_image : ndarray, optional
            The mean image the network was trained with (as a checkpoint
            stores it); by default the mean of ``dataset``'s training images.

        Returns
        -------
        test_images : ndarray (float32)
        test_labels : ndarray (int)
        """
        if mean_image is not None and self.subtract_mean:
            expected = self.input_shape(dataset)
            if tuple(np.shape(mean_image)) != expected:
                raise ValueError(
                    f"the mean image has shape {tuple(np.shape(mean_image))} but "
                    f"the {self.name!r} task's inputs on {dataset.name!r} have "
                    f"shape {expected}"
                )
        _, prepare_test = self.preprocessor(dataset, mean_image)
        return prepare_test(dataset.test_images), dataset.test_labels

    def build_architecture(self, dataset=None):
        """The architecture for this task (number of classes from ``dataset``)."""
        n_classes = 10 if dataset is None else len(dataset.classes)
        architecture = self.architecture(n_classes)
        if self.any_channels and dataset is not None:
            self.check_images(dataset)
            height, width = architecture.input_shape[:2]
            channels = int(dataset.train_images.shape[-1])
            architecture = dataclasses.replace(
                architecture, input_shape=(height, width, channels)
            )
        return architecture

    def check_images(self, dataset):
        """Raise a `ValueError` if the images are too small for the crop."""
        height, width = dataset.train_images.shape[1:3]
        if self.crop and (height < self.crop or width < self.crop):
            raise ValueError(
                f"The {self.name!r} task crops {self.crop}x{self.crop} images, but "
                f"{dataset.name!r} has {height}x{width} images; resize them when "
                f"loading (--image-size {self.crop} or more, or "
                "load_image_folder(..., image_size=...))"
            )


#: The paper's tasks. ``mnist-sample`` is MNIST on the sample shipped with the
#: package (the offline demo); ``folder`` is a user's own image-folder tree.
TASKS = {
    "mnist": Task(
        "mnist", mnist_architecture, "mnist", protocol=Protocol(t_start=0.12)
    ),
    "cifar10": Task(
        "cifar10",
        cifar10_architecture,
        "cifar10",
        crop=24,
        flip=True,
        subtract_mean=True,
        protocol=Protocol(t_start=0.1),
    ),
}
TASKS["mnist-sample"] = dataclasses.replace(TASKS["mnist"], name="mnist-sample")
#: Any image-folder tree, with the CIFAR-10 network, neurons and preprocessing
#: (24x24 random crops and flips, mean image subtracted), for any number of
#: classes and channels.
TASKS["folder"] = dataclasses.replace(
    TASKS["cifar10"], name="folder", any_channels=True
)


def get_task(name):
    """The :class:`Task` called ``name`` (clear error otherwise)."""
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}; choose one of {sorted(TASKS)}")
    return TASKS[name]
