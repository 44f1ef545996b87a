# what: deletes every test cell of a correct notebook: the tests still run (from the course), full marks
# expected: 10
# flag: test cell deleted
# edit: delete-tests
