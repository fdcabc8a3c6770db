from .classifier import fruit_classifier
from .image_features import image_features, mobilenet_v2
from .pca import pca_matrix, pca_model
from .raw_images import raw_images

ALL_ASSETS = [raw_images, mobilenet_v2, image_features, pca_model, pca_matrix, fruit_classifier]
