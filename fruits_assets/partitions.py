"""One partition per fruit class (the class folder name, e.g. ``Apple Braeburn 1``)."""

from dagster import DynamicPartitionsDefinition

fruit_classes = DynamicPartitionsDefinition(name="fruit_class")
