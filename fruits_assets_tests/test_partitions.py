"""Which folder names can be fruit classes, and runs over ranges of consecutive classes."""

import pytest

from fruits_assets.partitions import (
    InvalidClassNames,
    check_class_names,
    consecutive_runs,
    name_problem,
    partition_folder,
)

pytestmark = pytest.mark.fast

WORKING = ["Apple Braeburn 1", "Apple, Red", "Pear 'Williams'", "Pêche de vigne", "Kiwi  two  spaces",
           "Lemon #2 (100%)", "x" * 150]


@pytest.mark.parametrize("name", WORKING)
def test_names_users_have_are_classes(name):
    assert name_problem(name) is None


@pytest.mark.parametrize("name,why", [
    ("", "empty"), (" Apple", "space"), ("Apple ", "space"), (".hidden", "hidden"), ("_tmp", "hidden"),
    ("Apple/Red", "'/'"), ("Apple [red]", "'['"), ("Fig*", "'*'"), ("Pear: ripe", "':'"), ("Kiwi {x}", "'{'"),
    ("Lime?", "'?'"), ("a\\b", repr("\\")), ("tab\there", repr("\t")), ("Apple...Pear", "'...'"),
    ("é" * 125, "too long"), ("'" * 90, "too long"),
])
def test_names_that_cannot_be_classes_say_why(name, why):
    assert why in name_problem(name)


def test_the_partition_folder_is_what_spark_writes():
    assert partition_folder("Apple, Red") == "label=Apple, Red"
    assert partition_folder("Pear 'x' é") == "label=Pear %27x%27 é"
    assert partition_folder("Lemon #2 (100%)") == "label=Lemon %232 (100%25)"


def test_one_message_lists_every_bad_name_and_what_to_do():
    with pytest.raises(InvalidClassNames) as refused:
        check_class_names(["Apple 6", "Fig*", "Pear: ripe", "Kiwi"])
    message = str(refused.value)
    assert message.startswith("2 class folder name(s) cannot be fruit classes; rename the folders")
    assert "'Fig*'" in message and "'Pear: ripe'" in message and "'Apple 6'" not in message
    assert check_class_names(WORKING) == WORKING


def test_consecutive_runs_cover_exactly_the_wanted_keys():
    ordered = list("abcdefg")
    assert consecutive_runs(ordered, list("bcdf")) == [("b", "d"), ("f", "f")]
    assert consecutive_runs(ordered, list("abcdefg")) == [("a", "g")]
    assert consecutive_runs(ordered, []) == []
