"""The one consumer runtime of the worker's high-volume paths, built from small steps.

A `BatchConsumer` (`consumer.py`) fetches a batch from a `Source` (`source.py`: Kafka), puts
chunked values together again, hands the batch to its handler, and commits only after the
handler returned; its clock is injected (`clock.py`). The handler is a `Pipeline` of steps
(`steps.py`): process each message on its own → guard rows → write → settle (what succeeded is
delivered; what failed is dead-lettered, in one step) → produce and await the acks.
"""
