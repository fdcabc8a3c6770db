"""The named jobs a user launches (the UI, ``dg launch``, ``fruits-assets run``)."""

from dagster import AssetSelection, define_asset_job

from ..partitions import fruit_classes
from .features.assets import IMAGE_FEATURES, MOBILENET_V2
from .ingest.assets import RAW_IMAGES, REJECTED_IMAGES
from .pca.assets import PCA_MATRIX, PCA_MODEL_KEY
from .recognition.assets import FRUIT_CLASSIFIER

images_by_class = define_asset_job(
    "images_by_class",
    selection=AssetSelection.assets(RAW_IMAGES, REJECTED_IMAGES, MOBILENET_V2, IMAGE_FEATURES),
    partitions_def=fruit_classes,
    description="Ingest and featurize the chosen fruit classes (a range of classes is one run).",
)
refit_model = define_asset_job(
    "refit_model",
    selection=AssetSelection.assets(PCA_MODEL_KEY, PCA_MATRIX, FRUIT_CLASSIFIER),
    description="Refit the PCA on every class with features, write the CSV matrix, retrain the classifier.",
)
