//! Real AMQP traffic for the RabbitMQ tests (lapin): publish messages, hold consumers.

use anyhow::{Context as _, Result};
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

/// An AMQP connection with its own runtime; closed when dropped.
pub struct Amqp {
    rt: tokio::runtime::Runtime,
    conn: Connection,
}

/// A consumer that never acknowledges (prefetch 1): the queue keeps its messages while it
/// counts as consumed. Cancelled (its channel closed) when dropped.
pub struct Consumer {
    channel: Channel,
    _consumer: lapin::Consumer,
}

impl Amqp {
    pub fn connect(url: &str) -> Result<Amqp> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let conn = rt
            .block_on(Connection::connect(url, ConnectionProperties::default()))
            .context("AMQP connect")?;
        Ok(Amqp { rt, conn })
    }

    /// Publishes `count` messages to `queue` through the default exchange, with confirms.
    pub fn publish(&self, queue: &str, count: usize) -> Result<()> {
        self.rt.block_on(async {
            let ch = self.conn.create_channel().await?;
            ch.confirm_select(Default::default()).await?;
            for i in 0..count {
                ch.basic_publish(
                    "".into(),
                    queue.into(),
                    BasicPublishOptions::default(),
                    format!("message {i}").as_bytes(),
                    BasicProperties::default(),
                )
                .await?
                .await?;
            }
            ch.close(200, "done".into()).await?;
            Ok(())
        })
    }

    /// Starts a consumer on `queue` that takes one message and never acknowledges it.
    pub fn consume(&self, queue: &str) -> Result<Consumer> {
        self.rt.block_on(async {
            let channel = self.conn.create_channel().await?;
            channel.basic_qos(1, BasicQosOptions::default()).await?;
            let consumer = channel
                .basic_consume(
                    queue.into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok(Consumer {
                channel,
                _consumer: consumer,
            })
        })
    }

    /// Declares `count` non-durable queues `<prefix>00000`... on one channel, pipelined.
    pub fn declare_many(&self, prefix: &str, count: usize) -> Result<()> {
        self.rt.block_on(async {
            let ch = self.conn.create_channel().await?;
            // lapin sends a declare when its future is first polled: spawned tasks are polled
            // at once, so up to 500 declares are in flight (pipelined on the channel).
            let mut pending = tokio::task::JoinSet::new();
            for i in 0..count {
                let ch = ch.clone();
                let name = format!("{prefix}{i:05}");
                pending.spawn(async move {
                    ch.queue_declare(
                        name.as_str().into(),
                        lapin::options::QueueDeclareOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .map(|_| ())
                });
                if pending.len() == 500 {
                    while let Some(r) = pending.join_next().await {
                        r??;
                    }
                }
            }
            while let Some(r) = pending.join_next().await {
                r??;
            }
            Ok(())
        })
    }

    /// Cancels a consumer by closing its channel.
    pub fn stop(&self, consumer: Consumer) -> Result<()> {
        self.rt
            .block_on(consumer.channel.close(200, "done".into()))
            .context("closing the consumer's channel")
    }
}
