"""Layers: stax-compatible records of pure init / apply / backward functions."""

from fnnet.layers.activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from fnnet.layers.base import Layer
from fnnet.layers.combinators import FanInConcat, FanInSum, FanOut, Residual, parallel, serial
from fnnet.layers.conv import Conv2D
from fnnet.layers.dense import Dense
from fnnet.layers.pooling import AvgPool2D, MaxPool2D
from fnnet.layers.reshape import Flatten, Reshape

__all__ = [
    "AvgPool2D",
    "Conv2D",
    "Dense",
    "FanInConcat",
    "FanInSum",
    "FanOut",
    "Flatten",
    "Identity",
    "Layer",
    "LeakyReLU",
    "MaxPool2D",
    "ReLU",
    "Reshape",
    "Residual",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "parallel",
    "serial",
]
